// RFSPython: placeholder until its issue lands.
