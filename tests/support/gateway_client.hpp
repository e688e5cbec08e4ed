// Real clients of a real `pgpulse serve` for the gateway tests: the server as a child process,
// a WebSocket client, an SSE client and plain HTTP GETs, all on loopback, all with deadlines.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "test_database.hpp"

namespace pgpulse::test {

/// A loopback port that was free a moment ago.
int free_port();

/// `pgpulse serve --db url --listen 127.0.0.1:port extra...`, ready (healthz says the database
/// is connected) when the constructor returns.
class Gateway {
 public:
  Gateway(const std::string& db_url, std::vector<std::string> extra = {}, int port = 0);
  ~Gateway();
  int port() const { return port_; }
  CliProcess& process() { return *process_; }
  /// SIGKILL, no goodbye.
  void kill();
  /// SIGTERM; returns the exit code.
  int terminate(std::chrono::milliseconds timeout = 5s);

 private:
  int port_;
  std::unique_ptr<CliProcess> process_;
  bool exited_ = false;  // reaped: its pid may belong to another process by now
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};
HttpResponse http_get(int port, const std::string& target,
                      const std::map<std::string, std::string>& headers = {});

/// A WebSocket client. Messages are JSON objects; a frame of several lines (`/ws?batch=1`)
/// counts as one message per line.
class WsClient {
 public:
  /// Connects and upgrades; throws std::runtime_error with the HTTP status when refused.
  WsClient(int port, const std::string& target = "/ws",
           const std::map<std::string, std::string>& headers = {});
  ~WsClient();
  void send(const std::string& text);
  void send_binary(const std::string& bytes);
  /// The next message, or nullopt on timeout or close (then close_code() says why).
  std::optional<boost::json::object> next(std::chrono::milliseconds timeout = 5s);
  /// The next message whose "type" is `type`, skipping heartbeats and others.
  std::optional<boost::json::object> next_of(const std::string& type,
                                             std::chrono::milliseconds timeout = 5s);
  /// subscribe + wait for its "subscribed" (or "error"); returns it. Other messages that arrive
  /// meanwhile (events of other subscriptions) stay queued for next().
  boost::json::object subscribe(const std::string& id, const std::string& table,
                                const boost::json::object& extra = {});
  int close_code() const { return close_code_; }
  const std::string& close_reason() const { return close_reason_; }
  bool closed() const { return closed_; }
  void close();
  /// Text frames received so far (a batched frame holds several messages).
  std::size_t frames() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int close_code_ = 0;
  std::string close_reason_;
  bool closed_ = false;
};

/// A Server-Sent Events client.
class SseClient {
 public:
  struct Event {
    std::string id;
    std::string event;
    std::string data;
  };
  SseClient(int port, const std::string& target,
            const std::map<std::string, std::string>& headers = {});
  ~SseClient();
  int status() const { return status_; }
  /// The response's header fields (lower-case names).
  const std::map<std::string, std::string>& headers() const { return headers_; }
  /// The next event (comments skipped), or nullopt on timeout or end of stream.
  std::optional<Event> next(std::chrono::milliseconds timeout = 5s);
  bool ended() const { return ended_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int status_ = 0;
  std::map<std::string, std::string> headers_;
  bool ended_ = false;
  std::string pending_;
};

// A WebSocket client that stops reading: a raw socket with a tiny receive buffer that does the
// handshake, subscribes, then leaves everything the server sends unread.
class StalledWsClient {
 public:
  StalledWsClient(int port, const std::string& subscribe_json);
  ~StalledWsClient();
  StalledWsClient(const StalledWsClient&) = delete;
  StalledWsClient& operator=(const StalledWsClient&) = delete;
  /// Sends text frames (still reading nothing); false once the server has closed.
  bool send_texts(const std::vector<std::string>& payloads);

 private:
  static std::string masked_text_frame(const std::string& payload);
  void write_all(const std::string& bytes);
  // Reads byte by byte (nothing past what is needed) until `marker` was received.
  bool read_until(const std::string& marker);

  int fd_ = -1;
  std::string received_;
};

}  // namespace pgpulse::test
