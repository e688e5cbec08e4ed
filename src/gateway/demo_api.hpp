// The demo mode's write API (`pgpulse serve --demo` only): insert, edit and delete chat
// messages, so the demo page can write without a backend of its own. Statements run on a
// worker thread with their own connection, never on an event loop.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace pgpulse::gateway {

struct ApiResponse {
  int status = 200;
  std::string body;  ///< JSON
};

class DemoApi {
 public:
  explicit DemoApi(std::string conninfo);
  ~DemoApi();

  /// Creates the `messages` table when missing and captures it (blocking; at start).
  void prepare();
  /// Handles `method` on `path` (/api/messages[/<id>]) with a JSON `body` on the worker thread;
  /// `done` is called there with the response (post it back to your loop).
  void handle(std::string method, std::string path, std::string body,
              std::function<void(ApiResponse)> done);

 private:
  ApiResponse run(const std::string& method, const std::string& path, const std::string& body);

  std::string conninfo_;
  boost::asio::thread_pool worker_{1};
  struct Connection;
  std::unique_ptr<Connection> connection_;  // used on the worker thread only
};

}  // namespace pgpulse::gateway
