// Tokens for the tests of the gateway's authentication, signed by libjwt as an identity provider
// would sign them.
#pragma once

#include <jwt.h>

#include <string>

namespace pgpulse::test {

inline const std::string kSecret =
    "pgpulse-gateway-test-secret-0123456789";  // HS256 wants >= 32 bytes
inline const std::string kOtherSecret = "another-secret-that-signs-nothing-valid-here";

/// A token with `claims_json`, signed with `key` by `alg` (an HMAC secret, or a private key in
/// PEM); JWT_ALG_NONE makes an unsigned token. Throws std::runtime_error when libjwt refuses.
std::string sign(jwt_alg_t alg, const std::string& key, const std::string& claims_json);

/// An HS256 token with `claims_json`.
std::string sign(const std::string& claims_json, const std::string& key = kSecret);

/// Seconds since the epoch, for `exp` and `nbf` claims.
long unix_now();

}  // namespace pgpulse::test
