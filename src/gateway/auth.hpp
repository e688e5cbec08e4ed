// Token authentication for `pgpulse serve`: verifies a JWT and turns its claims into a Grant,
// what the connection may read. Pure: no networking, no clock other than the system clock.
//
//   TokenVerifier verifier({.hs256_secret = secret, .audience = "pgpulse"});  // once, at start
//   if (auto token = find_token(authorization_header, token_query_value)) {
//     Grant grant = verifier.verify(*token);  // throws AuthError: refuse with 401 and what()
//     if (grant.allows({"public", "messages"})) ...
//   }
//
// Security rules (auth.cpp says why):
// - only the algorithms the configuration implies are accepted: HS256 with the shared secret,
//   RS256 for an RSA public key, ES256 for an EC P-256 public key. `alg: none` never is, and the
//   token's header never picks a key: an HS256 token is checked with the secret only, so the
//   public key cannot be abused as an HMAC secret (RS->HS key confusion).
// - `exp` and `nbf` are checked with `leeway`. `exp` is optional: a token without it never
//   expires, so issuers should always set it.
// - a token without a tables claim reads nothing ("*" must be granted explicitly).
// - each entry of the tables claim is a table name written as in SQL, as `pgpulse install`
//   takes it: `messages` (= `public.messages`), `app.rooms`, `a."b.c"`, `"a.b".c` (two
//   different tables), `"My Table"`; or `schema.*` (every table of a schema) or `*` (every
//   table). Entries are parsed once, in verify(): one that is not a name refuses the token.
//
// Threads: verify() is const and keeps every libjwt/OpenSSL object local to the call, so one
// verifier may be used from any number of threads at once. Cost per call: HS256 ~10 us; RS256 and
// ES256 ~0.7 ms, nearly all of it libjwt 1.10 re-reading the PEM key each time (OpenSSL 3's
// decoders are slow; the signature check itself is ~40 us). Call it once per connection.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgpulse/error.hpp"
#include "pgpulse/table_name.hpp"

namespace pgpulse::gateway {

/// How tokens are verified. Authentication is on when at least one key is set.
struct AuthConfig {
  std::string hs256_secret{};       ///< shared secret for HS256 (empty: HS256 off); >= 32 bytes
  std::string public_key_pem{};     ///< PEM public key or certificate (empty: off): an RSA key
                                    ///< (>= 2048 bits) accepts RS256, an EC P-256 key ES256
  std::string issuer{};             ///< when set, `iss` must equal it (empty: not checked)
  std::string audience{};           ///< when set, `aud` must be or contain it (empty: not checked)
  std::chrono::seconds leeway{30};  ///< clock skew allowed on `exp` and `nbf`

  /// Whether any verification method is configured.
  bool enabled() const { return !hs256_secret.empty() || !public_key_pem.empty(); }
};

/// One entry of a token's tables claim: a table, every table of a schema, or every table.
struct TablePattern {
  enum class Kind { kTable, kSchema, kAll };
  Kind kind = Kind::kTable;
  /// kTable: the table; kSchema: `table.schema` is the schema (`table.name` empty).
  TableName table{};

  /// Parses an entry written as in SQL: `messages` (schema `public`), `app.rooms`, `a."b.c"`,
  /// `app.*`, `"My Schema".*`, `*`. Throws pgpulse::Error naming what is wrong.
  static TablePattern parse(std::string_view text);
  bool matches(const TableName& candidate) const;

  friend bool operator==(const TablePattern&, const TablePattern&) = default;
};

/// What a verified token allows.
struct Grant {
  /// `sub`; empty when absent.
  std::string subject{};
  /// Readable tables, parsed from the claim `pgpulse.tables` (see auth.cpp for its spellings)
  /// or else a top-level `tables`; each entry as TablePattern::parse() reads it. Absent: no
  /// table.
  std::vector<TablePattern> tables{};
  /// Forced row filter in PostgREST syntax ("room=eq.5"), from `pgpulse.filter` or else `filter`;
  /// the server ANDs it with the client's own. Empty: none.
  std::string filter{};
  /// `exp` plus the leeway, the moment verify() starts refusing the token: the server closes the
  /// connection then. Empty when the token has no `exp`.
  std::optional<std::chrono::system_clock::time_point> expires_at{};

  /// Whether the grant allows reading `table` (names as stored, case-sensitive).
  [[nodiscard]] bool allows(const TableName& table) const;
};

/// A token was refused. `what()` is a short reason fit to send to the client, such as
/// "token expired", "invalid signature" or "token algorithm HS512 not accepted".
class AuthError : public pgpulse::Error {
  using Error::Error;
};

/// Verifies tokens against one AuthConfig. Immutable after construction; thread-safe.
class TokenVerifier {
 public:
  /// Throws pgpulse::Error when the configuration is unusable (no key, a short secret, a PEM
  /// that is not a supported public key), naming the problem.
  explicit TokenVerifier(AuthConfig config);

  /// Checks the signature, the algorithm, `exp`/`nbf`, `iss`/`aud` and the claims' types, and
  /// returns the grant. Throws AuthError.
  Grant verify(std::string_view token) const;

 private:
  AuthConfig config_;
  std::string public_key_pem_;        ///< the public key re-encoded as SubjectPublicKeyInfo PEM
  std::string public_key_algorithm_;  ///< "RS256" or "ES256"; empty when no public key
};

/// The token of a request: from an `Authorization: Bearer ...` header value (which wins) or
/// else a `token` query parameter value, as the caller found them (empty when absent).
/// Returns nullopt when neither holds one; another scheme (say, Basic) counts as absent.
std::optional<std::string> find_token(std::string_view authorization_header,
                                      std::string_view token_query_value);

}  // namespace pgpulse::gateway
