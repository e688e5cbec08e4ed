// SIGHUP: `pgpulse serve` reads its TLS certificate and key and its token secret again (from
// the --config file and the files it names) for new connections, while connected clients stay
// connected with what they were accepted with.
#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "gateway_client.hpp"
#include "gateway_fixture.hpp"
#include "test_database.hpp"
#include "tokens.hpp"

namespace pgpulse::test {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace ssl = net::ssl;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = net::ip::tcp;

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A self-signed certificate with common name `cn`, and its key, in `dir`.
void make_certificate(const std::filesystem::path& dir, const std::string& cn) {
  auto command =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
      "-days 1 -subj /CN=" +
      cn + " -keyout " + (dir / (cn + ".key")).string() + " -out " +
      (dir / (cn + ".crt")).string() + " 2>/dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

// A WebSocket client over TLS that accepts any certificate and says whose it was.
class TlsWsClient {
 public:
  TlsWsClient(int port, const std::string& target) {
    tls_.set_verify_mode(ssl::verify_none);
    auto& lowest = beast::get_lowest_layer(ws_);
    lowest.expires_after(std::chrono::seconds(5));
    lowest.connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    ws_.next_layer().handshake(ssl::stream_base::client);
    if (X509* cert = SSL_get1_peer_certificate(ws_.next_layer().native_handle())) {
      char name[256] = {};
      X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof name);
      common_name_ = name;
      X509_free(cert);
    }
    websocket::response_type response;
    beast::error_code ec;
    ws_.handshake(response, "127.0.0.1", target, ec);
    status_ = response.result_int();
    upgraded_ = !ec;
    lowest.expires_never();
  }
  const std::string& common_name() const { return common_name_; }
  unsigned status() const { return status_; }
  bool upgraded() const { return upgraded_; }

  void send(const std::string& text) { ws_.write(net::buffer(text)); }
  // The next message that is not a heartbeat, or nullopt after `timeout`.
  std::optional<json::object> next(std::chrono::seconds timeout = std::chrono::seconds(10)) {
    for (;;) {
      beast::get_lowest_layer(ws_).expires_after(timeout);
      beast::flat_buffer buffer;
      beast::error_code ec;
      ws_.read(buffer, ec);
      if (ec) return std::nullopt;
      auto message = json::parse(beast::buffers_to_string(buffer.data())).as_object();
      if (message.at("type") != "heartbeat") return message;
    }
  }

 private:
  net::io_context io_;
  ssl::context tls_{ssl::context::tls_client};
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws_{io_, tls_};
  std::string common_name_;
  unsigned status_ = 0;
  bool upgraded_ = false;
};

const std::string kNewSecret = "a-new-secret-for-the-gateway-after-reload-0123";

std::string token_for(const std::string& table, const std::string& secret) {
  return sign(R"({"tables":[")" + table + R"("],"exp":)" + std::to_string(unix_now() + 600) + "}",
              secret);
}

class GatewayReloadTest : public GatewayTest {
 protected:
  void SetUp() override {
    GatewayTest::SetUp();
    dir_ = std::filesystem::temp_directory_path() / unique_name("pgpulse-reload");
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    GatewayTest::TearDown();
  }
  void write_config(const std::string& secret) {
    write_file(dir_ / "pgpulse.toml", "jwt_secret = \"" + secret + "\"\ntls_cert = \"" +
                                          (dir_ / "server.crt").string() + "\"\ntls_key = \"" +
                                          (dir_ / "server.key").string() + "\"\n");
  }
  void use_certificate(const std::string& cn) {
    write_file(dir_ / "server.crt", read_file(dir_ / (cn + ".crt")));
    write_file(dir_ / "server.key", read_file(dir_ / (cn + ".key")));
  }
  std::filesystem::path dir_;
};

TEST_F(GatewayReloadTest, SighupSwapsCertificateAndTokenKeyForNewClientsAndKeepsConnectedOnes) {
  auto table = make_table("id int PRIMARY KEY");
  make_certificate(dir_, "one");
  make_certificate(dir_, "two");
  use_certificate("one");
  write_config(kSecret);
  int port = free_port();
  CliProcess gateway({"serve", "--db", url_, "--listen", "127.0.0.1:" + std::to_string(port),
                      "--config", (dir_ / "pgpulse.toml").string()});
  std::unique_ptr<TlsWsClient> old_client;
  for (int i = 0; i < 150 && !old_client; ++i) {
    try {
      old_client = std::make_unique<TlsWsClient>(port, "/ws?token=" + token_for(table, kSecret));
    } catch (const std::exception&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // not serving yet
    }
  }
  ASSERT_TRUE(old_client) << gateway.stderr_text();
  EXPECT_EQ(old_client->common_name(), "one");
  ASSERT_TRUE(old_client->upgraded()) << old_client->status();
  old_client->send(R"({"type":"subscribe","id":"s","table":")" + table + "\"}");
  auto subscribed = old_client->next();
  ASSERT_TRUE(subscribed);
  ASSERT_EQ(subscribed->at("type"), "subscribed") << json::serialize(*subscribed);

  use_certificate("two");
  write_config(kNewSecret);
  gateway.signal(SIGHUP);
  bool renewed = false;
  for (int i = 0; i < 100 && !renewed; ++i) {
    TlsWsClient probe(port, "/ws?token=" + token_for(table, kNewSecret));
    renewed = probe.common_name() == "two";
    if (!renewed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(renewed) << gateway.stderr_text();

  TlsWsClient with_new_key(port, "/ws?token=" + token_for(table, kNewSecret));
  EXPECT_EQ(with_new_key.common_name(), "two");
  EXPECT_TRUE(with_new_key.upgraded()) << with_new_key.status();
  TlsWsClient with_old_key(port, "/ws?token=" + token_for(table, kSecret));
  EXPECT_FALSE(with_old_key.upgraded());
  EXPECT_EQ(with_old_key.status(), 401u);

  // The client from before the reload is still connected and gets events.
  insert_ids(table, 1, 1);
  auto event = old_client->next();
  ASSERT_TRUE(event) << gateway.stderr_text();
  EXPECT_EQ(event->at("type"), "event");
  EXPECT_EQ(event->at("event").at("new").at("id"), 1);

  // A reload that fails (a certificate file that is not one) keeps what is in use.
  write_file(dir_ / "server.crt", "not a certificate\n");
  gateway.signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  TlsWsClient after_failed_reload(port, "/ws?token=" + token_for(table, kNewSecret));
  EXPECT_EQ(after_failed_reload.common_name(), "two");
  EXPECT_TRUE(after_failed_reload.upgraded());
  gateway.signal(SIGTERM);
  EXPECT_EQ(gateway.wait(), 0);
  EXPECT_NE(gateway.stderr_text().find("reload failed"), std::string::npos)
      << gateway.stderr_text();
}

}  // namespace
}  // namespace pgpulse::test
