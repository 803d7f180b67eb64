// RFSWorker: placeholder until its issue lands.
