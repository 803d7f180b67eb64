// RFSProtocol: placeholder until its issue lands.
