// RFSTransport: placeholder until its issue lands.
