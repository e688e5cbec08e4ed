#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gateway/auth.hpp"
#include "tokens.hpp"

namespace pgpulse::gateway {
namespace {

using std::chrono::system_clock;
using test::sign;  // tokens.hpp: signed by libjwt
using test::unix_now;

const std::string kSecret = "0123456789abcdef0123456789abcdef";  // 32 bytes
const std::string kOtherSecret = "fedcba9876543210fedcba9876543210";

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return text;
}

struct KeyPair {
  PkeyPtr key;
  std::string private_pem;
  std::string public_pem;  // SubjectPublicKeyInfo

  explicit KeyPair(EVP_PKEY* generated) : key(generated) {
    if (!generated) throw std::runtime_error("key generation failed");
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    private_pem = bio_text(bio);
    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key.get());
    public_pem = bio_text(bio);
  }
};

// Key generation is slow (RSA: ~100 ms), so each kind is made once for the whole run.
const KeyPair& rsa_key() {
  static const KeyPair pair(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}));
  return pair;
}
const KeyPair& other_rsa_key() {
  static const KeyPair pair(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}));
  return pair;
}
const KeyPair& ec_key() {
  static const KeyPair pair(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  return pair;
}

std::string hs256(const std::string& claims_json, const std::string& secret = kSecret) {
  return sign(JWT_ALG_HS256, secret, claims_json);
}

std::string base64url(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int size = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                             reinterpret_cast<const unsigned char*>(bytes.data()),
                             static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(size));
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

// A token with any header, HMAC-SHA256-signed with `secret`: for headers libjwt cannot write.
std::string handmade_hs256(const std::string& header_json, const std::string& claims_json,
                           const std::string& secret = kSecret) {
  std::string input = base64url(header_json) + "." + base64url(claims_json);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &size);
  return input + "." + base64url(std::string(reinterpret_cast<char*>(mac), size));
}

std::vector<TablePattern> patterns(std::initializer_list<const char*> entries) {
  std::vector<TablePattern> out;
  for (const char* entry : entries) out.push_back(TablePattern::parse(entry));
  return out;
}

std::string refusal(const TokenVerifier& verifier, const std::string& token) {
  try {
    verifier.verify(token);
  } catch (const AuthError& e) {
    return e.what();
  }
  return "(accepted)";
}

TokenVerifier hs_verifier(AuthConfig config = {}) {
  config.hs256_secret = kSecret;
  return TokenVerifier(std::move(config));
}

TokenVerifier rs_verifier() {
  return TokenVerifier({.public_key_pem = rsa_key().public_pem});
}

TEST(TokenVerifier, AcceptsAValidHs256TokenAndReturnsItsGrant) {
  long exp = unix_now() + 600;
  auto grant = hs_verifier().verify(hs256(R"({"sub":"alice","exp":)" + std::to_string(exp) +
                                          R"(,"pgpulse":{"tables":["public.messages"]}})"));
  EXPECT_EQ(grant.subject, "alice");
  EXPECT_EQ(grant.tables, patterns({"public.messages"}));
  EXPECT_EQ(grant.filter, "");
  ASSERT_TRUE(grant.expires_at);
  EXPECT_EQ(*grant.expires_at, system_clock::time_point(std::chrono::seconds(exp + 30)))
      << "exp plus the leeway: the moment the token stops being accepted";
}

TEST(TokenVerifier, TokenWithoutExpNeverExpires) {
  auto grant = hs_verifier().verify(hs256(R"({"sub":"svc"})"));
  EXPECT_FALSE(grant.expires_at);
}

TEST(TokenVerifier, RefusesAnExpiredTokenButAllowsTheLeeway) {
  auto verifier = hs_verifier({.leeway = std::chrono::seconds(30)});
  EXPECT_EQ(refusal(verifier, hs256(R"({"exp":)" + std::to_string(unix_now() - 3600) + "}")),
            "token expired");
  EXPECT_EQ(refusal(verifier, hs256(R"({"exp":)" + std::to_string(unix_now() - 60) + "}")),
            "token expired");
  EXPECT_NO_THROW(verifier.verify(hs256(R"({"exp":)" + std::to_string(unix_now() - 10) + "}")));
  EXPECT_NO_THROW(verifier.verify(hs256(R"({"exp":)" + std::to_string(unix_now() + 1) + ".5}")))
      << "NumericDate may have a fraction";
}

TEST(TokenVerifier, RefusesATokenNotYetValidButAllowsTheLeeway) {
  auto verifier = hs_verifier();
  EXPECT_EQ(refusal(verifier, hs256(R"({"nbf":)" + std::to_string(unix_now() + 3600) + "}")),
            "token not yet valid");
  EXPECT_NO_THROW(verifier.verify(hs256(R"({"nbf":)" + std::to_string(unix_now() + 10) + "}")));
}

TEST(TokenVerifier, RefusesATokenSignedWithAnotherSecret) {
  EXPECT_EQ(refusal(hs_verifier(), hs256(R"({"sub":"mallory"})", kOtherSecret)),
            "invalid signature");
}

TEST(TokenVerifier, RefusesATamperedPayload) {
  std::string token = hs256(R"({"sub":"bob","tables":["public.messages"]})");
  auto first = token.find('.');
  auto second = token.find('.', first + 1);
  std::string forged = token.substr(0, first + 1) + base64url(R"({"sub":"bob","tables":["*"]})") +
                       token.substr(second);
  EXPECT_EQ(refusal(hs_verifier(), forged), "invalid signature");
  std::string cut_signature = token.substr(0, token.size() - 2);
  EXPECT_NE(refusal(hs_verifier(), cut_signature), "(accepted)");
}

TEST(TokenVerifier, RefusesUnsignedTokens) {
  std::string unsigned_token = sign(JWT_ALG_NONE, "", R"({"sub":"mallory","tables":["*"]})");
  ASSERT_EQ(unsigned_token.back(), '.') << "libjwt writes alg none tokens with an empty signature";
  EXPECT_EQ(refusal(hs_verifier(), unsigned_token), "unsigned token (alg none) not accepted");
  EXPECT_EQ(refusal(rs_verifier(), unsigned_token), "unsigned token (alg none) not accepted");
  for (const char* spelling : {R"({"alg":"none"})", R"({"alg":"None"})", R"({"alg":"NONE"})"}) {
    EXPECT_EQ(refusal(hs_verifier(), base64url(spelling) + "." + base64url(R"({"sub":"m"})") + "."),
              "unsigned token (alg none) not accepted")
        << spelling;
  }
}

TEST(TokenVerifier, RefusesHs256WhenOnlyRs256IsConfigured) {
  EXPECT_EQ(refusal(rs_verifier(), hs256(R"({"sub":"mallory"})")),
            "token algorithm HS256 not accepted");
}

TEST(TokenVerifier, RefusesRsToHsKeyConfusionWithThePublicKeyAsHmacSecret) {
  // The attacker knows the public key and signs an HS256 token with its PEM text as the secret.
  // libjwt alone would accept it; the verifier never lets the header pick the key.
  std::string forged = hs256(R"({"sub":"mallory","tables":["*"]})", rsa_key().public_pem);
  EXPECT_EQ(refusal(rs_verifier(), forged), "token algorithm HS256 not accepted");
  // With a secret configured too, HS256 is checked against the secret only.
  TokenVerifier both({.hs256_secret = kSecret, .public_key_pem = rsa_key().public_pem});
  EXPECT_EQ(refusal(both, forged), "invalid signature");
}

TEST(TokenVerifier, AcceptsRs256SignedWithTheConfiguredKeyOnly) {
  auto grant = rs_verifier().verify(sign(JWT_ALG_RS256, rsa_key().private_pem, R"({"sub":"rs"})"));
  EXPECT_EQ(grant.subject, "rs");
  EXPECT_EQ(refusal(rs_verifier(),
                    sign(JWT_ALG_RS256, other_rsa_key().private_pem, R"({"sub":"mallory"})")),
            "invalid signature");
}

TEST(TokenVerifier, AcceptsEs256ForAnEcP256Key) {
  TokenVerifier verifier({.public_key_pem = ec_key().public_pem});
  auto grant = verifier.verify(sign(JWT_ALG_ES256, ec_key().private_pem, R"({"sub":"ec"})"));
  EXPECT_EQ(grant.subject, "ec");
  EXPECT_EQ(refusal(verifier, sign(JWT_ALG_RS256, rsa_key().private_pem, R"({"sub":"rs"})")),
            "token algorithm RS256 not accepted");
  EXPECT_EQ(refusal(rs_verifier(), sign(JWT_ALG_ES256, ec_key().private_pem, R"({"sub":"ec"})")),
            "token algorithm ES256 not accepted");
}

TEST(TokenVerifier, AcceptsOnlyTheConfiguredAlgorithmsSpelledExactly) {
  EXPECT_EQ(refusal(hs_verifier(), sign(JWT_ALG_HS512, kSecret, R"({"sub":"x"})")),
            "token algorithm HS512 not accepted");
  EXPECT_EQ(refusal(hs_verifier(), sign(JWT_ALG_HS384, kSecret, R"({"sub":"x"})")),
            "token algorithm HS384 not accepted");
  EXPECT_EQ(refusal(hs_verifier(), handmade_hs256(R"({"alg":"hs256"})", R"({"sub":"x"})")),
            "token algorithm hs256 not accepted");
  EXPECT_EQ(refusal(hs_verifier(), handmade_hs256(R"({"alg":"HS256\n<b>"})", R"({"sub":"x"})")),
            "token algorithm (unprintable) not accepted");
  EXPECT_NO_THROW(hs_verifier().verify(handmade_hs256(R"({"alg":"HS256"})", R"({"sub":"x"})")))
      << "typ is optional";
}

TEST(TokenVerifier, RefusesOtherTokenTypesAndCriticalHeaders) {
  EXPECT_EQ(
      refusal(hs_verifier(), handmade_hs256(R"({"alg":"HS256","typ":"at+jwt"})", R"({"sub":"x"})")),
      "token type at+jwt not accepted");
  EXPECT_EQ(refusal(hs_verifier(),
                    handmade_hs256(R"({"alg":"HS256","crit":["exp"],"exp":1})", R"({"sub":"x"})")),
            "token header crit not supported");
}

TEST(TokenVerifier, ReadsTheTablesClaimFromEitherLocation) {
  auto tables = [](const std::string& claims) {
    return hs_verifier().verify(hs256(claims)).tables;
  };
  EXPECT_EQ(tables(R"({"pgpulse":{"tables":["messages","app.rooms"]}})"),
            patterns({"messages", "app.rooms"}));
  EXPECT_EQ(tables(R"({"pgpulse.tables":["flat.key"]})"), patterns({"flat.key"}));
  EXPECT_EQ(tables(R"({"tables":["top.level"]})"), patterns({"top.level"}));
  EXPECT_EQ(tables(R"({"pgpulse":{"tables":["nested"]},"tables":["top"]})"), patterns({"nested"}));
  EXPECT_EQ(tables(R"({"sub":"x"})"), patterns({}));
  EXPECT_EQ(refusal(hs_verifier(), hs256(R"({"tables":"public.messages"})")),
            "malformed token (tables is not an array of strings)");
  EXPECT_EQ(refusal(hs_verifier(), hs256(R"({"pgpulse":{"tables":[1]}})")),
            "malformed token (tables is not an array of strings)");
}

TEST(Grant, AllowsTheTablesItNamesWithPublicAsTheDefaultSchema) {
  Grant grant{.tables = patterns({"messages", "app.rooms", "audit.*"})};
  EXPECT_TRUE(grant.allows({"public", "messages"}));
  EXPECT_FALSE(grant.allows({"app", "messages"}));
  EXPECT_TRUE(grant.allows({"app", "rooms"}));
  EXPECT_FALSE(grant.allows({"public", "rooms"}));
  EXPECT_TRUE(grant.allows({"audit", "anything"}));
  EXPECT_FALSE(grant.allows({"public", "Messages"})) << "names are compared as stored";
  EXPECT_FALSE(grant.allows({"app", "rooms2"}));
  EXPECT_FALSE(grant.allows({"ap", "p.rooms"}));
}

TEST(Grant, StarAllowsEveryTableAndNoClaimAllowsNone) {
  EXPECT_TRUE(Grant{.tables = patterns({"*"})}.allows({"any", "table"}));
  EXPECT_FALSE(Grant{}.allows({"public", "messages"}));
}

TEST(Grant, ATableWithADotInItsNameIsNotTheTableOfASchemaWithADot) {
  // a."b.c" and "a.b".c were both the key "a.b.c": a token granted one read the other.
  Grant dotted_table{.tables = patterns({R"(a."b.c")"})};
  EXPECT_TRUE(dotted_table.allows({"a", "b.c"}));
  EXPECT_FALSE(dotted_table.allows({"a.b", "c"}));
  Grant dotted_schema{.tables = patterns({R"("a.b".c)"})};
  EXPECT_TRUE(dotted_schema.allows({"a.b", "c"}));
  EXPECT_FALSE(dotted_schema.allows({"a", "b.c"}));
  Grant dotted_schema_star{.tables = patterns({R"("a.b".*)"})};
  EXPECT_TRUE(dotted_schema_star.allows({"a.b", "c"}));
  EXPECT_FALSE(dotted_schema_star.allows({"a", "b.c"}));
}

TEST(Grant, EntriesAreReadAsSqlNames) {
  Grant grant{.tables = patterns({"Messages", R"("Rooms")", R"(app."My Table")"})};
  EXPECT_TRUE(grant.allows({"public", "messages"})) << "unquoted names fold to lower case";
  EXPECT_TRUE(grant.allows({"public", "Rooms"}));
  EXPECT_FALSE(grant.allows({"public", "rooms"}));
  EXPECT_TRUE(grant.allows({"app", "My Table"}));
}

TEST(TokenVerifier, RefusesATokenWithATablesEntryThatIsNotAName) {
  EXPECT_EQ(refusal(hs_verifier(), hs256(R"({"tables":["a.b.c"]})")),
            "malformed token (tables entry \"a.b.c\" is not a table name: bad table name "
            "'a.b.c': expected schema.table)");
  for (const char* entry : {R"(\"open)", "a.*.b", "a b"}) {
    auto reason = refusal(hs_verifier(), hs256(std::string(R"({"tables":[")") + entry + "\"]}"));
    EXPECT_NE(reason.find("is not a table name"), std::string::npos) << entry << ": " << reason;
  }
}

TEST(TokenVerifier, ReadsTheForcedFilterClaim) {
  EXPECT_EQ(hs_verifier().verify(hs256(R"({"pgpulse":{"filter":"room=eq.5"}})")).filter,
            "room=eq.5");
  EXPECT_EQ(hs_verifier().verify(hs256(R"({"filter":"author=eq.alice"})")).filter,
            "author=eq.alice");
  EXPECT_EQ(refusal(hs_verifier(), hs256(R"({"filter":5})")),
            "malformed token (filter is not a string)");
}

TEST(TokenVerifier, ChecksIssuerAndAudienceWhenConfigured) {
  auto verifier = hs_verifier({.issuer = "https://auth.example", .audience = "pgpulse"});
  EXPECT_NO_THROW(verifier.verify(hs256(R"({"iss":"https://auth.example","aud":"pgpulse"})")));
  EXPECT_NO_THROW(
      verifier.verify(hs256(R"({"iss":"https://auth.example","aud":["other","pgpulse"]})")));
  EXPECT_EQ(refusal(verifier, hs256(R"({"iss":"https://evil.example","aud":"pgpulse"})")),
            "wrong issuer");
  EXPECT_EQ(refusal(verifier, hs256(R"({"aud":"pgpulse"})")), "token has no issuer");
  EXPECT_EQ(refusal(verifier, hs256(R"({"iss":"https://auth.example","aud":"other"})")),
            "wrong audience");
  EXPECT_EQ(refusal(verifier, hs256(R"({"iss":"https://auth.example","aud":["a","b"]})")),
            "wrong audience");
  EXPECT_EQ(refusal(verifier, hs256(R"({"iss":"https://auth.example"})")), "token has no audience");
  EXPECT_NO_THROW(hs_verifier().verify(hs256(R"({"iss":"anyone","aud":"anything"})")))
      << "not checked when not configured";
}

TEST(TokenVerifier, RefusesMalformedTokens) {
  std::string payload = base64url(R"({"sub":"x"})");
  std::string header = base64url(R"({"alg":"HS256","typ":"JWT"})");
  for (const std::string& token : {
           std::string(""),
           std::string("garbage"),
           std::string("two.parts"),
           std::string("a.b.c.d"),
           header + ".!!!." + "c2ln",
           header + "." + payload + ".c2ln=",
           "e30=." + payload + ".c2ln",
           header + "." + base64url("not json") + ".c2ln",
           header + "." + base64url("[1,2]") + ".c2ln",
           base64url(R"({"typ":"JWT"})") + "." + payload + ".c2ln",
       }) {
    EXPECT_TRUE(refusal(hs_verifier(), token).starts_with("malformed token")) << token;
  }
  EXPECT_EQ(refusal(hs_verifier(), hs256(R"({"exp":"tomorrow"})")),
            "malformed token (exp is not a number)");
  EXPECT_EQ(refusal(hs_verifier(), std::string(100 * 1024, 'a')), "token too large");
}

TEST(TokenVerifier, RefusesUnusableConfigurationsNamingTheProblem) {
  auto problem = [](AuthConfig config) -> std::string {
    try {
      TokenVerifier verifier(std::move(config));
    } catch (const AuthError&) {
      return "(AuthError)";
    } catch (const Error& e) {
      return e.what();
    }
    return "(accepted)";
  };
  EXPECT_NE(problem({}).find("no verification method"), std::string::npos);
  EXPECT_NE(problem({.hs256_secret = "short"}).find("at least 32"), std::string::npos);
  EXPECT_NE(problem({.public_key_pem = "not a pem"}).find("not a PEM public key"),
            std::string::npos);
  EXPECT_NE(problem({.public_key_pem = rsa_key().private_pem}).find("private key"),
            std::string::npos);
  KeyPair p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  EXPECT_NE(problem({.public_key_pem = p384.public_pem}).find("P-256"), std::string::npos);
  KeyPair rsa1024(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{1024}));
  EXPECT_NE(problem({.public_key_pem = rsa1024.public_pem}).find("2048"), std::string::npos);
  KeyPair ed25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  EXPECT_NE(problem({.public_key_pem = ed25519.public_pem}).find("not supported"),
            std::string::npos);
}

TEST(TokenVerifier, AcceptsAPkcs1RsaPublicKeyOrACertificate) {
  std::string token = sign(JWT_ALG_RS256, rsa_key().private_pem, R"({"sub":"rs"})");

  BIO* bio = BIO_new(BIO_s_mem());
  OSSL_ENCODER_CTX* encoder = OSSL_ENCODER_CTX_new_for_pkey(
      rsa_key().key.get(), EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", nullptr);
  ASSERT_TRUE(OSSL_ENCODER_to_bio(encoder, bio));
  OSSL_ENCODER_CTX_free(encoder);
  std::string pkcs1 = bio_text(bio);
  ASSERT_NE(pkcs1.find("BEGIN RSA PUBLIC KEY"), std::string::npos);
  EXPECT_EQ(TokenVerifier({.public_key_pem = pkcs1}).verify(token).subject, "rs");

  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), rsa_key().key.get());
  ASSERT_GT(X509_sign(cert.get(), rsa_key().key.get(), EVP_sha256()), 0);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert.get());
  EXPECT_EQ(TokenVerifier({.public_key_pem = bio_text(bio)}).verify(token).subject, "rs");
}

TEST(TokenVerifier, VerifiesFromManyThreadsAtOnce) {
  TokenVerifier verifier({.hs256_secret = kSecret, .public_key_pem = ec_key().public_pem});
  std::string good_hs = hs256(R"({"sub":"hs"})");
  std::string good_es = sign(JWT_ALG_ES256, ec_key().private_pem, R"({"sub":"es"})");
  std::string bad = hs256(R"({"sub":"bad"})", kOtherSecret);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (verifier.verify(good_hs).subject != "hs") ++wrong;
        if (verifier.verify(good_es).subject != "es") ++wrong;
        if (refusal(verifier, bad) != "invalid signature") ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(FindToken, TakesABearerHeaderFirstThenTheQueryParameter) {
  EXPECT_EQ(find_token("Bearer abc.def.ghi", ""), "abc.def.ghi");
  EXPECT_EQ(find_token("bearer   abc.def.ghi  ", ""), "abc.def.ghi");
  EXPECT_EQ(find_token("Bearer header.token.x", "query.token.x"), "header.token.x");
  EXPECT_EQ(find_token("", "query.token.x"), "query.token.x");
  EXPECT_EQ(find_token("Basic dXNlcjpwYXNz", "query.token.x"), "query.token.x");
  EXPECT_EQ(find_token("Bearer ", "query.token.x"), "query.token.x");
  EXPECT_EQ(find_token("Basic dXNlcjpwYXNz", ""), std::nullopt);
  EXPECT_EQ(find_token("Bearertoken", ""), std::nullopt);
  EXPECT_EQ(find_token("", ""), std::nullopt);
}

}  // namespace
}  // namespace pgpulse::gateway
