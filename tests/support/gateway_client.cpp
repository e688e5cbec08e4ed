#include "gateway_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace pgpulse::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// A response's header fields by lower-case name.
template <class Message>
std::map<std::string, std::string> lower_case_fields(const Message& message) {
  std::map<std::string, std::string> fields;
  for (const auto& field : message) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    fields[name] = std::string(field.value());
  }
  return fields;
}

}  // namespace

int free_port() {
  net::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

Gateway::Gateway(const std::string& db_url, std::vector<std::string> extra, int port)
    : port_(port ? port : free_port()) {
  std::vector<std::string> args{"serve", "--db", db_url, "--listen",
                                "127.0.0.1:" + std::to_string(port_)};
  args.insert(args.end(), extra.begin(), extra.end());
  process_ = std::make_unique<CliProcess>(args);
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      auto health = http_get(port_, "/healthz");
      if (health.status == 200 && health.body.find("\"connected\"") != std::string::npos) return;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(20ms);
  }
  throw std::runtime_error("gateway did not become ready: " + process_->stderr_text());
}

Gateway::~Gateway() {
  if (process_ && !exited_) {
    process_->signal(SIGKILL);
    process_->wait();
  }
}

void Gateway::kill() {
  if (exited_) return;
  process_->signal(SIGKILL);
  process_->wait();
  exited_ = true;
}

int Gateway::terminate(std::chrono::milliseconds timeout) {
  if (exited_) return process_->wait();
  process_->signal(SIGTERM);
  auto code = process_->wait(timeout);  // killed and reaped when it did not exit in time
  exited_ = true;
  return code;
}

HttpResponse http_get(int port, const std::string& target,
                      const std::map<std::string, std::string>& headers) {
  net::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(5s);
  stream.connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  http::request<http::empty_body> request(http::verb::get, target, 11);
  request.set(http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) request.set(name, value);
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  HttpResponse out;
  out.status = static_cast<int>(response.result_int());
  out.headers = lower_case_fields(response);
  out.body = response.body();
  return out;
}

// The client runs its own io_context on a thread: a read is always pending (so close frames
// and pings are answered), and the test thread waits on a queue with a deadline.
struct WsClient::Impl {
  net::io_context io;
  websocket::stream<beast::tcp_stream> ws{io};
  beast::flat_buffer buffer;
  std::thread thread;
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::string> messages;
  std::size_t frames = 0;
  bool ended = false;
  int close_code = 0;
  std::string close_reason;

  void read() {
    ws.async_read(buffer, [this](beast::error_code ec, std::size_t) {
      std::lock_guard lock(mutex);
      if (ec) {
        ended = true;
        close_code = ws.reason().code;
        close_reason = std::string(ws.reason().reason.c_str());
      } else {
        // A batched frame (`/ws?batch=1`) holds several messages, one per line.
        auto frame = beast::buffers_to_string(buffer.data());
        buffer.consume(buffer.size());
        ++frames;
        std::size_t start = 0;
        for (auto end = frame.find('\n'); end != std::string::npos; end = frame.find('\n', start)) {
          messages.push_back(frame.substr(start, end - start));
          start = end + 1;
        }
        messages.push_back(frame.substr(start));
      }
      changed.notify_all();
      if (!ec) read();
    });
  }

  // Runs `work` on the client's thread and waits for it (not at all once the connection is
  // gone: the thread has ended and would never run it).
  template <class Work>
  void on_thread(Work work) {
    if (io.stopped()) return;
    auto done = std::make_shared<std::promise<void>>();
    auto finished = done->get_future();
    net::post(io, [work, done] { work([done](beast::error_code) { done->set_value(); }); });
    finished.wait_for(5s);
  }
};

WsClient::WsClient(int port, const std::string& target,
                   const std::map<std::string, std::string>& headers)
    : impl_(std::make_unique<Impl>()) {
  auto& lowest = beast::get_lowest_layer(impl_->ws);
  lowest.expires_after(5s);
  lowest.connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  impl_->ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& r) {
    for (const auto& [name, value] : headers) r.set(name, value);
  }));
  websocket::response_type response;
  beast::error_code ec;
  impl_->ws.handshake(response, "127.0.0.1", target, ec);
  if (ec) {
    throw std::runtime_error("websocket refused: HTTP " + std::to_string(response.result_int()) +
                             " " + response.body());
  }
  lowest.expires_never();
  impl_->read();
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

WsClient::~WsClient() {
  net::post(impl_->io, [impl = impl_.get()] { beast::get_lowest_layer(impl->ws).close(); });
  impl_->thread.join();
}

void WsClient::send(const std::string& text) {
  auto payload = std::make_shared<std::string>(text);  // outlives a send that timed out
  impl_->on_thread([impl = impl_.get(), payload](auto done) {
    impl->ws.text(true);
    impl->ws.async_write(net::buffer(*payload),
                         [done, payload](beast::error_code ec, std::size_t) { done(ec); });
  });
}

void WsClient::send_binary(const std::string& bytes) {
  auto payload = std::make_shared<std::string>(bytes);
  impl_->on_thread([impl = impl_.get(), payload](auto done) {
    impl->ws.binary(true);
    impl->ws.async_write(net::buffer(*payload),
                         [done, payload](beast::error_code ec, std::size_t) { done(ec); });
  });
}

std::optional<boost::json::object> WsClient::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  impl_->changed.wait_for(lock, timeout, [&] { return !impl_->messages.empty() || impl_->ended; });
  if (impl_->messages.empty()) {
    if (impl_->ended) {
      closed_ = true;
      close_code_ = impl_->close_code;
      close_reason_ = impl_->close_reason;
    }
    return std::nullopt;
  }
  auto text = std::move(impl_->messages.front());
  impl_->messages.pop_front();
  return boost::json::parse(text).as_object();
}

std::optional<boost::json::object> WsClient::next_of(const std::string& type,
                                                     std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = left_until(deadline);
    if (left.count() <= 0) return std::nullopt;
    auto message = next(left);
    if (!message) return std::nullopt;
    if (message->at("type").as_string() == type) return message;
  }
}

boost::json::object WsClient::subscribe(const std::string& id, const std::string& table,
                                        const boost::json::object& extra) {
  boost::json::object request{{"type", "subscribe"}, {"id", id}, {"table", table}};
  for (const auto& [key, value] : extra) request[key] = value;
  send(boost::json::serialize(request));
  // Messages that are not the answer go back to the front of the queue, in order.
  std::vector<std::string> others;
  auto put_back = [&] {
    std::lock_guard lock(impl_->mutex);
    impl_->messages.insert(impl_->messages.begin(), others.begin(), others.end());
  };
  auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    std::string text;
    {
      std::unique_lock lock(impl_->mutex);
      impl_->changed.wait_until(lock, deadline,
                                [&] { return !impl_->messages.empty() || impl_->ended; });
      if (impl_->messages.empty()) {
        lock.unlock();
        put_back();
        throw std::runtime_error("no answer to subscribe " + id);
      }
      text = std::move(impl_->messages.front());
      impl_->messages.pop_front();
    }
    auto message = boost::json::parse(text).as_object();
    auto type = message.at("type").as_string();
    const auto* answer_id = message.if_contains("id");
    bool ours = answer_id == nullptr || (answer_id->is_string() && answer_id->as_string() == id);
    if ((type == "subscribed" || type == "error") && ours) {
      put_back();
      return message;
    }
    others.push_back(std::move(text));
  }
}

std::size_t WsClient::frames() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->frames;
}

void WsClient::close() {
  impl_->on_thread([impl = impl_.get()](auto done) {
    impl->ws.async_close(websocket::close_code::normal, [done](beast::error_code ec) { done(ec); });
  });
  closed_ = true;
}

struct SseClient::Impl {
  net::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
};

SseClient::SseClient(int port, const std::string& target,
                     const std::map<std::string, std::string>& headers)
    : impl_(std::make_unique<Impl>()) {
  auto& stream = impl_->stream;
  stream.expires_after(5s);
  stream.connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  http::request<http::empty_body> request(http::verb::get, target, 11);
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::accept, "text/event-stream");
  for (const auto& [name, value] : headers) request.set(name, value);
  http::write(stream, request);
  http::response_parser<http::empty_body> parser;
  parser.skip(true);
  http::read_header(stream, impl_->buffer, parser);
  status_ = static_cast<int>(parser.get().result_int());
  headers_ = lower_case_fields(parser.get());
  pending_ = beast::buffers_to_string(impl_->buffer.data());
  impl_->buffer.consume(impl_->buffer.size());
  stream.expires_never();
}

SseClient::~SseClient() = default;

std::optional<SseClient::Event> SseClient::next(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // One event: lines up to an empty line.
    if (auto end = pending_.find("\n\n"); end != std::string::npos) {
      std::string block = pending_.substr(0, end);
      pending_.erase(0, end + 2);
      Event event;
      bool any = false;
      std::size_t start = 0;
      while (start <= block.size()) {
        auto stop = block.find('\n', start);
        auto line =
            block.substr(start, stop == std::string::npos ? std::string::npos : stop - start);
        start = stop == std::string::npos ? block.size() + 1 : stop + 1;
        if (line.empty() || line[0] == ':') continue;
        auto colon = line.find(':');
        auto field = line.substr(0, colon);
        auto value = colon == std::string::npos ? std::string() : line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') value.erase(0, 1);
        if (field == "id") event.id = value, any = true;
        if (field == "event") event.event = value, any = true;
        if (field == "data") event.data += value, any = true;
      }
      if (any) return event;
      continue;
    }
    if (ended_) return std::nullopt;
    auto left = left_until(deadline);
    if (left.count() <= 0) return std::nullopt;
    char chunk[4096];
    beast::error_code result = net::error::would_block;
    std::size_t got = 0;
    impl_->stream.async_read_some(net::buffer(chunk), [&](beast::error_code ec, std::size_t n) {
      result = ec;
      got = n;
    });
    impl_->io.restart();
    impl_->io.run_for(left);
    if (result == net::error::would_block) {
      impl_->stream.cancel();
      impl_->io.restart();
      impl_->io.run();
      if (got) pending_.append(chunk, got);
      return std::nullopt;
    }
    if (result) {
      ended_ = true;
      continue;
    }
    pending_.append(chunk, got);
  }
}

StalledWsClient::StalledWsClient(int port, const std::string& subscribe_json) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) throw std::runtime_error("socket failed");
  int size = 4096;
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    throw std::runtime_error("connect failed");
  }
  write_all(
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  if (!read_until("\r\n\r\n") || received_.rfind("HTTP/1.1 101", 0) != 0) {
    throw std::runtime_error("upgrade refused: " + received_);
  }
  write_all(masked_text_frame(subscribe_json));
  if (!read_until("\"subscribed\"")) throw std::runtime_error("no subscribed: " + received_);
}

StalledWsClient::~StalledWsClient() {
  ::close(fd_);
}

std::string StalledWsClient::masked_text_frame(const std::string& payload) {
  std::string frame;
  frame += static_cast<char>(0x81);  // FIN, text
  if (payload.size() < 126) {
    frame += static_cast<char>(0x80 | payload.size());
  } else {
    frame += static_cast<char>(0x80 | 126);
    frame += static_cast<char>((payload.size() >> 8) & 0xff);
    frame += static_cast<char>(payload.size() & 0xff);
  }
  const char mask[4] = {0x12, 0x34, 0x56, 0x78};
  frame.append(mask, 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    frame += static_cast<char>(payload[i] ^ mask[i % 4]);
  return frame;
}

void StalledWsClient::write_all(const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n <= 0) throw std::runtime_error("write failed");
    done += static_cast<std::size_t>(n);
  }
}

bool StalledWsClient::send_texts(const std::vector<std::string>& payloads) {
  std::string bytes;
  for (const auto& payload : payloads) bytes += masked_text_frame(payload);
  std::size_t done = 0;
  while (done < bytes.size()) {
    // MSG_NOSIGNAL: a closed connection is an answer here, not a SIGPIPE.
    auto n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool StalledWsClient::read_until(const std::string& marker) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (received_.find(marker) == std::string::npos) {
    pollfd fd{fd_, POLLIN, 0};
    auto left = left_until(deadline);
    if (left.count() <= 0 || ::poll(&fd, 1, static_cast<int>(left.count())) <= 0) return false;
    char c = 0;
    if (::read(fd_, &c, 1) != 1) return false;
    received_ += c;
  }
  return true;
}

}  // namespace pgpulse::test
