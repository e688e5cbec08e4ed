// Load generator for the gateway benchmarks: N clients in one process on one Asio loop, each
// subscribed to one table over WebSocket (or SSE), counting deliveries and commit-to-receive
// latency, and reporting its own CPU so a result is never limited by the tool without saying so.
//
//   ws_load --port P --clients N --table T [--seconds S] [--idle] [--connect-batch B]
//           [--sse] [--batch] [--stamp-field NAME] [--sample-every K] [--count C]
//           [--warmup-seconds W]
//
// --sse             GET /sse?table=T instead of a WebSocket; events are the `data:` lines of
//                   `change` events (docs/protocol.md).
// --batch           connect to /ws?batch=1: a text frame may hold several messages, separated
//                   by a single "\n" (none after the last); each counts.
// --stamp-field F   latency from the row field F (integer microseconds since the epoch, say a
//                   column the writer fills with its clock) instead of the event's commit_time.
// --sample-every K  latency of every K-th event (default: every one with one client, every
//                   16th with more, which keeps the tool's own cost low).
// --count C         stop once C events have arrived (--seconds is then the longest wait).
// --warmup-seconds  drop the latency samples stamped within W s of the first one.
//
// Prints one JSON object on stdout when done (or on SIGINT / SIGTERM), latency in ms
// (`latency_ms`, as before) and in us (`latency_us`).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  int port = 8080;
  int clients = 1;
  std::string table = "bench";
  double seconds = 10;  // the measured window; with --count, the longest wait
  bool idle = false;
  int connect_batch = 200;  // handshakes in flight at once
  bool sse = false;
  bool batch = false;
  std::string stamp_field;  // empty: commit_time
  int sample_every = 0;     // 0: 1 with one client, 16 with more
  std::uint64_t count = 0;  // 0: run for --seconds
  double warmup_seconds = 0;
};

struct Stats {
  std::uint64_t events = 0;
  std::uint64_t bytes = 0;
  int connected = 0;
  int subscribed = 0;
  int failed = 0;
  int closed = 0;
  std::int64_t first_stamp = 0;           // of the first sampled event, for the warm-up
  std::vector<std::uint32_t> latency_us;  // sampled
};

// "commit_time":"2026-11-24T07:42:31.052509Z" inside an event -> microseconds since epoch.
std::int64_t commit_micros(std::string_view text) {
  auto at = text.find("\"commit_time\":\"");
  if (at == std::string_view::npos) return 0;
  std::tm tm{};
  int micros = 0;
  std::string stamp(text.substr(at + 15, 27));
  if (std::sscanf(stamp.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &micros) < 7) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000000 + micros;
}

// "NAME":123 inside an event (the first occurrence: `new` comes before `old`) -> 123.
std::int64_t field_micros(std::string_view text, const std::string& key) {
  auto at = text.find(key);
  if (at == std::string_view::npos) return 0;
  const char* first = text.data() + at + key.size();
  std::int64_t value = 0;
  std::from_chars(first, text.data() + text.size(), value);
  return value;
}

std::int64_t now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What every client does with the events it gets; shared by the WebSocket and SSE clients.
class Recorder {
 public:
  Recorder(const Options& options, Stats& stats, std::function<void()> on_count)
      : options_(options),
        stats_(stats),
        key_(options.stamp_field.empty() ? "" : "\"" + options.stamp_field + "\":"),
        sample_every_(options.sample_every > 0 ? options.sample_every
                      : options.clients == 1   ? 1
                                               : 16),
        warmup_us_(static_cast<std::int64_t>(options.warmup_seconds * 1e6)),
        on_count_(std::move(on_count)) {}

  void event(std::string_view text) {
    ++stats_.events;
    stats_.bytes += text.size();
    if (stats_.events % sample_every_ == 0) sample(text);
    if (options_.count && stats_.events == options_.count) on_count_();
  }

 private:
  void sample(std::string_view text) {
    auto stamp = key_.empty() ? commit_micros(text) : field_micros(text, key_);
    if (stamp == 0) return;
    auto received = now_micros();
    if (stats_.first_stamp == 0) stats_.first_stamp = stamp;
    if (stamp < stats_.first_stamp + warmup_us_) return;
    stats_.latency_us.push_back(
        static_cast<std::uint32_t>(std::max<std::int64_t>(0, received - stamp)));
  }

  const Options& options_;
  Stats& stats_;
  const std::string key_;
  const std::uint64_t sample_every_;
  const std::int64_t warmup_us_;
  std::function<void()> on_count_;
};

// What both transports share: the options, the counters, and the one-time "ready" report
// (subscribed, idle-connected or failed) that paces the connects.
class Client {
 public:
  Client(const Options& options, Stats& stats, Recorder& recorder)
      : options_(options), stats_(stats), recorder_(recorder) {}
  virtual ~Client() = default;
  void start(std::function<void()> on_ready) {
    on_ready_ = std::move(on_ready);
    connect(tcp::endpoint(net::ip::make_address("127.0.0.1"),
                          static_cast<unsigned short>(options_.port)));
  }

 protected:
  virtual void connect(const tcp::endpoint& gateway) = 0;
  void ready() {
    if (on_ready_) std::exchange(on_ready_, nullptr)();
  }
  void fail() {
    ++stats_.failed;
    ready();
  }

  const Options& options_;
  Stats& stats_;
  Recorder& recorder_;

 private:
  std::function<void()> on_ready_;
};

class WsClient : public Client, public std::enable_shared_from_this<WsClient> {
 public:
  WsClient(net::io_context& io, const Options& options, Stats& stats, Recorder& recorder)
      : Client(options, stats, recorder), ws_(io) {}

 private:
  void connect(const tcp::endpoint& gateway) override {
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(30));
    beast::get_lowest_layer(ws_).async_connect(
        gateway, [self = shared_from_this()](beast::error_code ec) { self->on_connect(ec); });
  }

  void on_connect(beast::error_code ec) {
    if (ec) return fail();
    ws_.async_handshake(
        "127.0.0.1", options_.batch ? "/ws?batch=1" : "/ws",
        [self = shared_from_this()](beast::error_code e) { self->on_handshake(e); });
  }

  void on_handshake(beast::error_code ec) {
    if (ec) return fail();
    beast::get_lowest_layer(ws_).expires_never();
    ++stats_.connected;
    if (options_.idle) {
      ready();
      read();
      return;
    }
    request_ = R"({"type":"subscribe","id":"s","table":")" + options_.table + "\"}";
    ws_.async_write(net::buffer(request_),
                    [self = shared_from_this()](beast::error_code e, std::size_t) {
                      if (e) return self->fail();
                      self->read();
                    });
  }

  void read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      ++stats_.closed;
      return;
    }
    auto data = buffer_.cdata();
    std::string_view text(static_cast<const char*>(data.data()), data.size());
    if (options_.batch) {
      for (auto newline = text.find('\n'); newline != std::string_view::npos;
           newline = text.find('\n')) {
        on_message(text.substr(0, newline));
        text.remove_prefix(newline + 1);
      }
    }
    on_message(text);
    buffer_.consume(buffer_.size());
    read();
  }

  void on_message(std::string_view text) {
    if (text.starts_with(R"({"type":"event")")) {
      recorder_.event(text);
    } else if (text.starts_with(R"({"type":"subscribed")")) {
      ++stats_.subscribed;
      ready();
    }
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  std::string request_;
};

// One GET /sse?table=T: the response is a plain byte stream of SSE events after its headers.
class SseClient : public Client, public std::enable_shared_from_this<SseClient> {
 public:
  SseClient(net::io_context& io, const Options& options, Stats& stats, Recorder& recorder)
      : Client(options, stats, recorder), stream_(io) {}

 private:
  void connect(const tcp::endpoint& gateway) override {
    stream_.expires_after(std::chrono::seconds(30));
    stream_.async_connect(
        gateway, [self = shared_from_this()](beast::error_code ec) { self->on_connect(ec); });
  }

  void on_connect(beast::error_code ec) {
    if (ec) return fail();
    request_ = "GET /sse?table=" + options_.table +
               " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
    net::async_write(stream_, net::buffer(request_),
                     [self = shared_from_this()](beast::error_code e, std::size_t) {
                       if (e) return self->fail();
                       self->read();
                     });
  }

  void read() {
    stream_.async_read_some(
        net::buffer(chunk_),
        [self = shared_from_this()](beast::error_code ec, std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(beast::error_code ec, std::size_t n) {
    if (ec) {
      if (!headers_done_) return fail();
      ++stats_.closed;
      return;
    }
    pending_.append(chunk_.data(), n);
    std::size_t used = 0;
    if (!headers_done_) {
      auto end = pending_.find("\r\n\r\n");
      if (end == std::string::npos) return read();
      // The stream is raw after the headers; anything else (an error status, chunked
      // framing) is not what this tool can read.
      std::string_view headers(pending_.data(), end);
      if (!headers.starts_with("HTTP/1.1 200") || headers.find("chunked") != headers.npos) {
        std::fprintf(stderr, "ws_load: unexpected SSE response: %.*s\n",
                     static_cast<int>(headers.size()), headers.data());
        return fail();
      }
      stream_.expires_never();
      headers_done_ = true;
      ++stats_.connected;
      used = end + 4;
    }
    for (auto newline = pending_.find('\n', used); newline != std::string::npos;
         newline = pending_.find('\n', used)) {
      std::string_view line(pending_.data() + used, newline - used);
      if (line.ends_with('\r')) line.remove_suffix(1);
      on_line(line);
      used = newline + 1;
    }
    pending_.erase(0, used);
    read();
  }

  void on_line(std::string_view line) {
    if (line.empty()) {
      event_type_.clear();
    } else if (line.starts_with("event:")) {
      line.remove_prefix(6);
      if (line.starts_with(' ')) line.remove_prefix(1);
      event_type_ = line;
    } else if (line.starts_with("data:")) {
      line.remove_prefix(5);
      if (line.starts_with(' ')) line.remove_prefix(1);
      if (event_type_ == "change") {
        recorder_.event(line);
      } else if (event_type_ == "subscribed") {
        ++stats_.subscribed;
        ready();
      } else if (event_type_ == "error") {
        std::fprintf(stderr, "ws_load: SSE error: %.*s\n", static_cast<int>(line.size()),
                     line.data());
        fail();
      }
    }
  }

  beast::tcp_stream stream_;
  std::array<char, 64 * 1024> chunk_{};
  std::string pending_;  // received, not yet a whole line
  std::string request_;
  std::string event_type_;
  bool headers_done_ = false;
};

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&] { return std::string(i + 1 < argc ? argv[++i] : ""); };
    if (arg == "--port")
      options.port = std::stoi(next());
    else if (arg == "--clients")
      options.clients = std::stoi(next());
    else if (arg == "--table")
      options.table = next();
    else if (arg == "--seconds")
      options.seconds = std::stod(next());
    else if (arg == "--idle")
      options.idle = true;
    else if (arg == "--connect-batch")
      options.connect_batch = std::stoi(next());
    else if (arg == "--sse")
      options.sse = true;
    else if (arg == "--batch")
      options.batch = true;
    else if (arg == "--stamp-field")
      options.stamp_field = next();
    else if (arg == "--sample-every")
      options.sample_every = std::stoi(next());
    else if (arg == "--count")
      options.count = std::stoull(next());
    else if (arg == "--warmup-seconds")
      options.warmup_seconds = std::stod(next());
    else {
      std::fprintf(stderr, "ws_load: unknown option %s\n", arg.c_str());
      return 2;
    }
  }
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);

  net::io_context io(1);
  bool stopped = false;  // by a signal or by --count
  auto stop = [&] {
    stopped = true;
    io.stop();
  };
  net::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code ec, int) {
    if (!ec) stop();
  });
  Stats stats;
  Recorder recorder(options, stats, stop);
  std::vector<std::shared_ptr<Client>> clients;
  int started = 0;
  int ready = 0;
  auto connect_start = Clock::now();
  Clock::time_point all_ready;
  std::function<void()> launch = [&] {
    while (started < options.clients && started - ready < options.connect_batch) {
      std::shared_ptr<Client> client;
      if (options.sse)
        client = std::make_shared<SseClient>(io, options, stats, recorder);
      else
        client = std::make_shared<WsClient>(io, options, stats, recorder);
      clients.push_back(client);
      ++started;
      client->start([&] {
        ++ready;
        if (ready == options.clients) {
          all_ready = Clock::now();
          std::fprintf(stderr, "ready: %d clients (%d failed) in %.2f s\n", stats.connected,
                       stats.failed,
                       std::chrono::duration<double>(all_ready - connect_start).count());
          std::fprintf(stderr, "ready\n");
        }
        launch();
      });
    }
  };
  launch();
  // Run until all are ready, then for the measured window (or until --count events came).
  while (ready < options.clients && !stopped) io.run_one_for(std::chrono::milliseconds(100));
  stats.events = 0;
  stats.bytes = 0;
  stats.first_stamp = 0;
  stats.latency_us.clear();
  double cpu_before = cpu_seconds();
  auto begin = Clock::now();
  if (!stopped) {
    io.run_for(std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(options.seconds)));
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
  double cpu = cpu_seconds() - cpu_before;
  auto& lat = stats.latency_us;
  std::sort(lat.begin(), lat.end());
  auto pct_us = [&](double p) -> std::uint32_t {
    if (lat.empty()) return 0;
    return lat[std::min(lat.size() - 1,
                        static_cast<std::size_t>(p * static_cast<double>(lat.size())))];
  };
  auto max_us = lat.empty() ? 0U : lat.back();
  std::printf(
      "{\"transport\":\"%s\",\"clients\":%d,\"connected\":%d,\"failed\":%d,\"closed\":%d,"
      "\"seconds\":%.3f,\"deliveries\":%llu,\"deliveries_per_s\":%.0f,\"bytes_per_s\":%.0f,"
      "\"stamp\":\"%s\","
      "\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,\"samples\":%zu},"
      "\"latency_us\":{\"p50\":%u,\"p99\":%u,\"p999\":%u,\"max\":%u,\"samples\":%zu},"
      "\"tool_cpu_pct\":%.1f}\n",
      options.sse     ? "sse"
      : options.batch ? "ws-batch"
                      : "ws",
      options.clients, stats.connected, stats.failed, stats.closed, elapsed,
      static_cast<unsigned long long>(stats.events), static_cast<double>(stats.events) / elapsed,
      static_cast<double>(stats.bytes) / elapsed,
      options.stamp_field.empty() ? "commit_time" : options.stamp_field.c_str(),
      pct_us(0.5) / 1000.0, pct_us(0.99) / 1000.0, pct_us(0.999) / 1000.0, max_us / 1000.0,
      lat.size(), pct_us(0.5), pct_us(0.99), pct_us(0.999), max_us, lat.size(),
      100.0 * cpu / elapsed);
  return 0;
}
