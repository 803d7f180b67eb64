// RFSModuleIndex: placeholder until its issue lands.
