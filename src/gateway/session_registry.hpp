// The live sessions of each loop, so a shutdown can close them all. Owned by the server.
//
// Threads: the list of a loop is touched only on that loop's thread.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace pgpulse::gateway {

class ClientSession;

class SessionRegistry {
 public:
  explicit SessionRegistry(std::size_t loops) : loops_(loops) {}

  /// Call on `loop`.
  void add(std::size_t loop, std::weak_ptr<ClientSession> session) {
    auto& sessions = loops_[loop];
    // Forget the ones that are gone now and then, so the list stays as long as the live ones.
    if (sessions.size() >= 64 && (sessions.size() & (sessions.size() - 1)) == 0) {
      std::erase_if(sessions, [](const auto& s) { return s.expired(); });
    }
    sessions.push_back(std::move(session));
  }
  /// The live sessions of `loop`, which forgets them. Call on `loop`.
  std::vector<std::shared_ptr<ClientSession>> take(std::size_t loop) {
    std::vector<std::shared_ptr<ClientSession>> live;
    for (auto& weak : loops_[loop]) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
    loops_[loop].clear();
    return live;
  }

 private:
  std::vector<std::vector<std::weak_ptr<ClientSession>>> loops_;
};

}  // namespace pgpulse::gateway
