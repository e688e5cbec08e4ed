// Tokens for the gateway tests, signed as an identity provider would sign them.
#pragma once

#include <string>

namespace pgpulse::test {

inline const std::string kSecret =
    "pgpulse-gateway-test-secret-0123456789";  // HS256 wants >= 32 bytes
inline const std::string kOtherSecret = "another-secret-that-signs-nothing-valid-here";

/// An HS256 token with `claims_json`, signed by libjwt.
std::string sign(const std::string& claims_json, const std::string& key = kSecret);

/// Seconds since the epoch, for `exp` and `nbf` claims.
long unix_now();

}  // namespace pgpulse::test
