// WebSocket load generator for the fan-out benchmarks: N clients in one process on one Asio
// loop, each subscribed to one table, counting deliveries and commit-to-receive latency, and
// reporting its own CPU so a result is never limited by the tool without saying so.
//
//   ws_load --port P --clients N --table T [--seconds S] [--idle] [--connect-rate R]
//
// Prints one JSON object on stdout when done (or on SIGINT).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
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
  double seconds = 10;
  bool idle = false;
  int connect_batch = 200;  // handshakes in flight at once
};

struct Stats {
  std::uint64_t events = 0;
  std::uint64_t bytes = 0;
  int connected = 0;
  int subscribed = 0;
  int failed = 0;
  int closed = 0;
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

std::int64_t now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(net::io_context& io, const Options& options, Stats& stats, int index)
      : ws_(io), options_(options), stats_(stats), index_(index) {}

  void start(std::function<void()> on_ready) {
    on_ready_ = std::move(on_ready);
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(30));
    beast::get_lowest_layer(ws_).async_connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"),
                      static_cast<unsigned short>(options_.port)),
        [self = shared_from_this()](beast::error_code ec) { self->on_connect(ec); });
  }

 private:
  void fail() {
    ++stats_.failed;
    if (on_ready_) std::exchange(on_ready_, nullptr)();
  }

  void on_connect(beast::error_code ec) {
    if (ec) return fail();
    ws_.async_handshake("127.0.0.1", "/ws", [self = shared_from_this()](beast::error_code e) {
      self->on_handshake(e);
    });
  }

  void on_handshake(beast::error_code ec) {
    if (ec) return fail();
    beast::get_lowest_layer(ws_).expires_never();
    ++stats_.connected;
    if (options_.idle) {
      if (on_ready_) std::exchange(on_ready_, nullptr)();
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
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->on_read(ec, n);
    });
  }

  void on_read(beast::error_code ec, std::size_t n) {
    if (ec) {
      ++stats_.closed;
      return;
    }
    auto data = buffer_.cdata();
    std::string_view text(static_cast<const char*>(data.data()), data.size());
    if (text.starts_with(R"({"type":"event")")) {
      ++stats_.events;
      stats_.bytes += n;
      // Sample latency: every client's every 16th event keeps the tool's own cost low.
      if ((stats_.events & 15) == 0) {
        auto committed = commit_micros(text);
        if (committed)
          stats_.latency_us.push_back(
              static_cast<std::uint32_t>(std::max<std::int64_t>(0, now_micros() - committed)));
      }
    } else if (text.starts_with(R"({"type":"subscribed")")) {
      ++stats_.subscribed;
      if (on_ready_) std::exchange(on_ready_, nullptr)();
    }
    buffer_.consume(buffer_.size());
    read();
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  std::string request_;
  const Options& options_;
  Stats& stats_;
  [[maybe_unused]] int index_;
  std::function<void()> on_ready_;
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
  for (int i = 1; i + 1 < argc + 1; ++i) {
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
  }
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);

  net::io_context io(1);
  Stats stats;
  std::vector<std::shared_ptr<Client>> clients;
  int started = 0;
  int ready = 0;
  auto connect_start = Clock::now();
  Clock::time_point all_ready;
  std::function<void()> launch = [&] {
    while (started < options.clients && started - ready < options.connect_batch) {
      auto client = std::make_shared<Client>(io, options, stats, started);
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
  // Run until all are ready, then for the measured window.
  while (ready < options.clients) io.run_one_for(std::chrono::milliseconds(100));
  stats.events = 0;
  stats.bytes = 0;
  stats.latency_us.clear();
  double cpu_before = cpu_seconds();
  auto begin = Clock::now();
  io.run_for(
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds)));
  double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
  double cpu = cpu_seconds() - cpu_before;
  auto& lat = stats.latency_us;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) -> double {
    if (lat.empty()) return 0;
    return lat[std::min(lat.size() - 1,
                        static_cast<std::size_t>(p * static_cast<double>(lat.size())))] /
           1000.0;
  };
  std::printf(
      "{\"clients\":%d,\"connected\":%d,\"failed\":%d,\"closed\":%d,\"seconds\":%.3f,"
      "\"deliveries\":%llu,\"deliveries_per_s\":%.0f,\"bytes_per_s\":%.0f,"
      "\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,\"samples\":%zu},"
      "\"tool_cpu_pct\":%.1f}\n",
      options.clients, stats.connected, stats.failed, stats.closed, elapsed,
      static_cast<unsigned long long>(stats.events), static_cast<double>(stats.events) / elapsed,
      static_cast<double>(stats.bytes) / elapsed, pct(0.5), pct(0.99), pct(0.999),
      lat.empty() ? 0.0 : lat.back() / 1000.0, lat.size(), 100.0 * cpu / elapsed);
  return 0;
}
