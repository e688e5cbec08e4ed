#include "tokens.hpp"

#include <jwt.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace pgpulse::test {

std::string sign(const std::string& claims_json, const std::string& key) {
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) throw std::runtime_error("jwt_new failed");
  std::unique_ptr<jwt_t, decltype(&jwt_free)> token(raw, &jwt_free);
  if (jwt_add_grants_json(token.get(), claims_json.c_str()) != 0) {
    throw std::runtime_error("bad claims " + claims_json);
  }
  if (jwt_set_alg(token.get(), JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(key.data()),
                  static_cast<int>(key.size())) != 0) {
    throw std::runtime_error("jwt_set_alg failed");
  }
  char* encoded = jwt_encode_str(token.get());
  if (encoded == nullptr) throw std::runtime_error("jwt_encode_str failed");
  std::string out = encoded;
  free(encoded);
  return out;
}

long unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace pgpulse::test
