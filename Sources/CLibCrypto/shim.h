// The system's libcrypto (OpenSSL 3, Debian's libssl-dev): only the EVP digest API is used,
// for the SHA-256 of the client's files (RFSManifest's SHA256).
#include <openssl/evp.h>
