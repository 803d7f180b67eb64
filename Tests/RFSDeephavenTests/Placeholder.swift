#if Deephaven
#endif
