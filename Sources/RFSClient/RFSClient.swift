// RFSClient: placeholder until its issue lands.
