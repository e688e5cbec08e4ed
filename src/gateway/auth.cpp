// Token verification. The token's structure, header and claims are parsed here (Boost.JSON);
// libjwt checks the signature. Why the split: libjwt 1.10 takes the algorithm from the token's
// header (case-insensitively) and verifies with whatever key it is given, so on its own it
// accepts an HS256 token whose HMAC key is our RSA public key. We decide the algorithm and the
// key before libjwt sees the token, and check afterwards that libjwt used that algorithm.
#include "gateway/auth.hpp"

#include <jwt.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cstdint>
#include <memory>

namespace pgpulse::gateway {
namespace {

namespace json = boost::json;

// A request header or query string cannot be larger in practice; this bounds the work a
// client can ask for before its signature is checked.
constexpr std::size_t kMaxTokenBytes = 64 * 1024;
// RFC 7518 section 3.2: an HS256 key must be at least as long as the hash output.
constexpr std::size_t kMinSecretBytes = 32;
constexpr int kMinRsaBits = 2048;
// `expires_at` must fit system_clock (nanoseconds: up to year 2262); later means "never".
constexpr double kLatestExpiry = 7'258'118'400.0;  // 2200-01-01T00:00:00Z

struct BioFree {
  void operator()(BIO* bio) const { BIO_free_all(bio); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct DecoderFree {
  void operator()(OSSL_DECODER_CTX* ctx) const { OSSL_DECODER_CTX_free(ctx); }
};
struct JwtFree {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

Error config_error(const std::string& problem) {
  ERR_clear_error();
  return Error("auth: " + problem);
}

AuthError malformed(const std::string& detail) {
  return AuthError("malformed token (" + detail + ")");
}

// Reads a PEM public key (SubjectPublicKeyInfo or PKCS#1 RSA) or the key of a PEM certificate.
PkeyPtr read_public_key(const std::string& pem) {
  if (pem.find("PRIVATE KEY-----") != std::string::npos) {
    throw config_error(
        "public_key_pem holds a private key; give its public key "
        "(openssl pkey -in KEY -pubout)");
  }
  if (pem.find("-----BEGIN CERTIFICATE-----") != std::string::npos) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    std::unique_ptr<X509, X509Free> cert(
        bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!cert) throw config_error("public_key_pem: the certificate cannot be read");
    PkeyPtr key(X509_get_pubkey(cert.get()));
    if (!key) throw config_error("public_key_pem: the certificate's key cannot be read");
    return key;
  }
  EVP_PKEY* raw = nullptr;
  std::unique_ptr<OSSL_DECODER_CTX, DecoderFree> decoder(OSSL_DECODER_CTX_new_for_pkey(
      &raw, "PEM", nullptr, nullptr, EVP_PKEY_PUBLIC_KEY, nullptr, nullptr));
  auto data = reinterpret_cast<const unsigned char*>(pem.data());
  std::size_t size = pem.size();
  if (!decoder || !OSSL_DECODER_from_data(decoder.get(), &data, &size) || !raw) {
    EVP_PKEY_free(raw);
    throw config_error(
        "public_key_pem is not a PEM public key "
        "(-----BEGIN PUBLIC KEY-----) or certificate");
  }
  return PkeyPtr(raw);
}

// The one algorithm a key may verify. The key type decides, never a token.
std::string algorithm_for(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) {
    if (EVP_PKEY_get_bits(key) < kMinRsaBits) {
      throw config_error("public_key_pem: the RSA key has " +
                         std::to_string(EVP_PKEY_get_bits(key)) + " bits; at least " +
                         std::to_string(kMinRsaBits) + " are needed");
    }
    return "RS256";
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    std::array<char, 64> group{};
    std::size_t length = 0;
    if (!EVP_PKEY_get_group_name(key, group.data(), group.size(), &length) ||
        OBJ_txt2nid(group.data()) != NID_X9_62_prime256v1) {
      throw config_error(std::string("public_key_pem: the EC key is on curve ") +
                         (length ? group.data() : "(unknown)") +
                         "; ES256 needs P-256 (prime256v1)");
    }
    return "ES256";
  }
  const char* type = EVP_PKEY_get0_type_name(key);
  throw config_error(std::string("public_key_pem: key type ") + (type ? type : "(unknown)") +
                     " is not supported; use RSA (RS256) or EC P-256 (ES256)");
}

std::string to_spki_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || !PEM_write_bio_PUBKEY(bio.get(), key)) {
    throw config_error("public_key_pem: the key cannot be re-encoded");
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Strict base64url without padding (RFC 7515): anything else, including non-zero leftover
// bits, is refused so that one token has exactly one spelling.
std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    int value = base64url_value(c);
    if (value < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xffu));
    }
  }
  if ((bits & ((1u << count) - 1u)) != 0) return std::nullopt;
  return out;
}

json::object decode_json_part(std::string_view part, const char* name) {
  auto text = base64url_decode(part);
  if (!text) throw malformed(std::string(name) + " is not base64url");
  boost::system::error_code ec;
  json::value value = json::parse(*text, ec);
  if (ec || !value.is_object()) throw malformed(std::string(name) + " is not a JSON object");
  return std::move(value.get_object());
}

std::optional<std::string> string_claim(const json::object& claims, std::string_view name) {
  const json::value* value = claims.if_contains(name);
  if (!value) return std::nullopt;
  if (!value->is_string()) throw malformed(std::string(name) + " is not a string");
  return std::string(value->get_string());
}

// NumericDate (RFC 7519): seconds since the epoch, integer or not.
std::optional<double> date_claim(const json::object& claims, std::string_view name) {
  const json::value* value = claims.if_contains(name);
  if (!value) return std::nullopt;
  if (!value->is_number()) throw malformed(std::string(name) + " is not a number");
  return value->to_number<double>();
}

// A tables entry echoed in an error, cut short: it goes back to the client verbatim.
std::string shown_name(std::string_view text) {
  std::string out = json::serialize(json::string(text.substr(0, 40)));
  if (text.size() > 40) out += "...";
  return out;
}

// A pgpulse claim: `{"pgpulse": {"tables": ...}}` first, then a flat "pgpulse.tables", then a
// top-level "tables" (for issuers that cannot nest claims).
const json::value* pgpulse_claim(const json::object& claims, std::string_view name) {
  if (const json::value* ns = claims.if_contains("pgpulse")) {
    if (!ns->is_object()) throw malformed("pgpulse is not an object");
    if (const json::value* value = ns->get_object().if_contains(name)) return value;
  }
  if (const json::value* value = claims.if_contains("pgpulse." + std::string(name))) return value;
  return claims.if_contains(name);
}

std::vector<TablePattern> tables_claim(const json::object& claims) {
  std::vector<TablePattern> tables;
  const json::value* value = pgpulse_claim(claims, "tables");
  if (!value) return tables;
  if (!value->is_array()) throw malformed("tables is not an array of strings");
  for (const json::value& item : value->get_array()) {
    if (!item.is_string() || item.get_string().empty()) {
      throw malformed("tables is not an array of strings");
    }
    std::string_view text = item.get_string();
    try {
      tables.push_back(TablePattern::parse(text));
    } catch (const Error& e) {
      throw malformed("tables entry " + shown_name(text) + " is not a table name: " + e.what());
    }
  }
  return tables;
}

void check_audience(const json::object& claims, const std::string& audience) {
  const json::value* value = claims.if_contains("aud");
  if (!value) throw AuthError("token has no audience");
  if (value->is_string()) {
    if (value->get_string() != audience) throw AuthError("wrong audience");
    return;
  }
  if (!value->is_array()) throw malformed("aud is not a string or an array of strings");
  bool found = false;
  for (const json::value& item : value->get_array()) {
    if (!item.is_string()) throw malformed("aud is not a string or an array of strings");
    found = found || item.get_string() == audience;
  }
  if (!found) throw AuthError("wrong audience");
}

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

// A header value echoed in an error: only when short and plainly spelled, since it goes back to
// the client verbatim (an HTTP body, a WebSocket close reason of at most 123 bytes).
std::string shown(std::string_view text) {
  bool plain = !text.empty() && text.size() <= 20 &&
               std::all_of(text.begin(), text.end(),
                           [](char c) { return base64url_value(c) >= 0 || c == '+' || c == '.'; });
  return plain ? std::string(text) : std::string("(unprintable)");
}

std::string_view trim(std::string_view text) {
  auto space = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace

TablePattern TablePattern::parse(std::string_view text) {
  if (text == "*") return {.kind = Kind::kAll};
  if (text.ends_with(".*")) {
    auto schema_text = text.substr(0, text.size() - 2);
    auto rest = schema_text;
    auto schema = parse_identifier(rest);
    if (!rest.empty()) throw Error("unexpected text after the schema name");
    return {.kind = Kind::kSchema, .table = {.schema = std::move(schema), .name = {}}};
  }
  return {.kind = Kind::kTable, .table = TableName::parse(text)};
}

bool TablePattern::matches(const TableName& candidate) const {
  switch (kind) {
    case Kind::kAll:
      return true;
    case Kind::kSchema:
      return candidate.schema == table.schema;
    case Kind::kTable:
      return candidate == table;
  }
  return false;
}

bool Grant::allows(const TableName& table) const {
  return std::any_of(tables.begin(), tables.end(),
                     [&](const TablePattern& pattern) { return pattern.matches(table); });
}

TokenVerifier::TokenVerifier(AuthConfig config) : config_(std::move(config)) {
  if (!config_.enabled()) {
    throw config_error("no verification method: set hs256_secret or public_key_pem");
  }
  if (!config_.hs256_secret.empty() && config_.hs256_secret.size() < kMinSecretBytes) {
    throw config_error("the HS256 secret has " + std::to_string(config_.hs256_secret.size()) +
                       " bytes; at least " + std::to_string(kMinSecretBytes) +
                       " are needed (openssl rand -base64 32)");
  }
  if (config_.leeway.count() < 0) throw config_error("leeway must not be negative");
  if (!config_.public_key_pem.empty()) {
    PkeyPtr key = read_public_key(config_.public_key_pem);
    public_key_algorithm_ = algorithm_for(key.get());
    public_key_pem_ = to_spki_pem(key.get());
  }
}

Grant TokenVerifier::verify(std::string_view token) const {
  if (token.size() > kMaxTokenBytes) throw AuthError("token too large");
  auto first_dot = token.find('.');
  auto second_dot =
      first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos || token.find('.', second_dot + 1) != token.npos) {
    throw malformed("expected header.payload.signature");
  }
  json::object header = decode_json_part(token.substr(0, first_dot), "header");
  json::object claims =
      decode_json_part(token.substr(first_dot + 1, second_dot - first_dot - 1), "payload");
  if (!base64url_decode(token.substr(second_dot + 1))) {
    throw malformed("signature is not base64url");
  }

  // The algorithm: exactly as configured (RFC 7515 names are case-sensitive; libjwt is not).
  const json::value* alg_value = header.if_contains("alg");
  if (!alg_value || !alg_value->is_string()) throw malformed("header has no alg");
  std::string alg(alg_value->get_string());
  if (iequals(alg, "none")) throw AuthError("unsigned token (alg none) not accepted");
  std::string_view key;
  jwt_alg_t expected = JWT_ALG_INVAL;
  if (alg == "HS256" && !config_.hs256_secret.empty()) {
    key = config_.hs256_secret;
    expected = JWT_ALG_HS256;
  } else if (alg == public_key_algorithm_ && !public_key_pem_.empty()) {
    key = public_key_pem_;
    expected = alg == "RS256" ? JWT_ALG_RS256 : JWT_ALG_ES256;
  } else {
    throw AuthError("token algorithm " + shown(alg) + " not accepted");
  }
  // libjwt 1.10 refuses any `typ` but "JWT"; say so instead of "invalid signature".
  if (const json::value* typ = header.if_contains("typ");
      typ && !(typ->is_string() && iequals(typ->get_string(), "JWT"))) {
    throw AuthError("token type " +
                    (typ->is_string() ? shown(typ->get_string()) : "(not a string)") +
                    " not accepted");
  }
  // RFC 7515 section 4.1.11: extensions we do not know must not be ignored.
  if (header.contains("crit")) throw AuthError("token header crit not supported");

  // The signature, by libjwt, on a per-call object (libjwt 1.10 keeps no shared state; OpenSSL 3
  // is thread-safe). jwt_decode wants a NUL-terminated string.
  std::string text(token);
  jwt_t* raw = nullptr;
  int failed = jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(key.data()),
                          static_cast<int>(key.size()));
  std::unique_ptr<jwt_t, JwtFree> decoded(raw);
  // A failed check leaves errors in this thread's OpenSSL queue, where they would be blamed on
  // the next TLS operation of this event loop.
  ERR_clear_error();
  if (failed || !decoded) throw AuthError("invalid signature");
  if (jwt_get_alg(decoded.get()) != expected) throw AuthError("invalid signature");

  // Claims: checked after the signature, so a forged token learns nothing about them.
  double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto leeway = static_cast<double>(config_.leeway.count());
  std::optional<double> exp = date_claim(claims, "exp");
  if (exp && now >= *exp + leeway) throw AuthError("token expired");
  if (std::optional<double> nbf = date_claim(claims, "nbf"); nbf && now + leeway < *nbf) {
    throw AuthError("token not yet valid");
  }
  if (!config_.issuer.empty()) {
    std::optional<std::string> iss = string_claim(claims, "iss");
    if (!iss) throw AuthError("token has no issuer");
    if (*iss != config_.issuer) throw AuthError("wrong issuer");
  }
  if (!config_.audience.empty()) check_audience(claims, config_.audience);

  Grant grant;
  grant.subject = string_claim(claims, "sub").value_or("");
  grant.tables = tables_claim(claims);
  if (const json::value* filter = pgpulse_claim(claims, "filter")) {
    if (!filter->is_string()) throw malformed("filter is not a string");
    grant.filter = std::string(filter->get_string());
  }
  if (exp) {
    double until = std::min(*exp + leeway, kLatestExpiry);
    grant.expires_at = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::duration<double>(until)));
  }
  return grant;
}

std::optional<std::string> find_token(std::string_view authorization_header,
                                      std::string_view token_query_value) {
  std::string_view header = trim(authorization_header);
  auto space = header.find_first_of(" \t");
  if (space != std::string_view::npos && iequals(header.substr(0, space), "Bearer")) {
    std::string_view token = trim(header.substr(space));
    if (!token.empty()) return std::string(token);
  }
  std::string_view query = trim(token_query_value);
  if (!query.empty()) return std::string(query);
  return std::nullopt;
}

}  // namespace pgpulse::gateway
