// The catch-up state machine without network or database: a fake source whose events the test
// emits, fake session hooks, and an io_context the test runs by hand, so each interleaving of
// the source, the attach timer and the client's reading is run deliberately.
#include "gateway/catch_up.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <vector>

namespace pgpulse::gateway {
namespace {

// What the test sees of one source the catch-up made.
struct SourceState {
  Cursor from = Cursor::at(0);
  Cursor cursor = Cursor::at(0);
  CatchUpSource::EventHandler on_event;
  CatchUpSource::ErrorHandler on_error;
  bool started = false;
  bool stopped = false;
  bool destroyed = false;
};

class FakeSource final : public CatchUpSource {
 public:
  explicit FakeSource(std::shared_ptr<SourceState> state) : state_(std::move(state)) {}
  ~FakeSource() override { state_->destroyed = true; }
  void start(EventHandler on_event, ErrorHandler on_error) override {
    state_->on_event = std::move(on_event);
    state_->on_error = std::move(on_error);
    state_->started = true;
  }
  void stop() override { state_->stopped = true; }
  const Cursor& cursor() const override { return state_->cursor; }

 private:
  std::shared_ptr<SourceState> state_;
};

class CatchUpTest : public ::testing::Test {
 protected:
  std::shared_ptr<CatchUp> make(CatchUpSlots& slots) {
    return std::make_shared<CatchUp>(
        io_, CatchUp::Options{.table = {"public", "messages"}}, slots,
        [this](boost::asio::io_context&, const TableName&, const Cursor& from) {
          auto state = std::make_shared<SourceState>();
          state->from = state->cursor = from;
          sources_.push_back(state);
          return std::make_unique<FakeSource>(state);
        },
        CatchUp::Hooks{
            .deliver =
                [this](const hub::SharedEvent& e) { delivered_.push_back(e->id.position()); },
            .far_ahead = [this] { return far_ahead_; },
            .attach =
                [this](const Cursor& at) {
                  attach_calls_.push_back(at.position());
                  return ring_reaches_back_;
                },
            .failed = [this](const std::exception_ptr&) { ++failures_; },
        });
  }

  // The source emits the event at `position` (the source's cursor moves past it first, as
  // ChangeStream's does).
  void emit(SourceState& source, std::int64_t position) {
    ChangeEvent event;
    event.id = Cursor::at(position, 1);
    event.schema = "public";
    event.table = "messages";
    event.new_row = R"({"id":1})";
    event.commit_time = "2026-11-24T07:42:31Z";
    source.cursor = event.id;
    if (source.on_event && !source.stopped) source.on_event(event);
  }

  int reading_sources() const {
    int n = 0;
    for (const auto& s : sources_) n += s->started && !s->stopped;
    return n;
  }

  boost::asio::io_context io_;
  CatchUpSlots slots_{16};
  std::vector<std::shared_ptr<SourceState>> sources_;
  std::vector<std::int64_t> delivered_;
  std::vector<std::int64_t> attach_calls_;
  bool far_ahead_ = false;
  bool ring_reaches_back_ = false;
  int failures_ = 0;
};

TEST_F(CatchUpTest, ReadsFromTheCursorAndAttachesWhereTheReadingGot) {
  auto catch_up = make(slots_);
  catch_up->start(Cursor::at(10, 1));
  ASSERT_EQ(sources_.size(), 1u);
  EXPECT_EQ(sources_[0]->from, Cursor::at(10, 1));
  EXPECT_EQ(catch_up->state(), CatchUp::State::kReading);
  EXPECT_EQ(slots_.running(), 1);
  emit(*sources_[0], 11);
  emit(*sources_[0], 12);
  catch_up->on_retry_timer();  // the ring does not reach back yet
  EXPECT_EQ(catch_up->state(), CatchUp::State::kReading);
  ring_reaches_back_ = true;
  catch_up->on_retry_timer();
  EXPECT_EQ(catch_up->state(), CatchUp::State::kAttached);
  EXPECT_EQ(attach_calls_, (std::vector<std::int64_t>{12, 12}));
  EXPECT_EQ(delivered_, (std::vector<std::int64_t>{11, 12}));
  EXPECT_TRUE(sources_[0]->stopped);
  EXPECT_EQ(slots_.running(), 0) << "the slot goes back when the read ends";
  io_.poll();
  EXPECT_TRUE(sources_[0]->destroyed) << "destroyed after, not inside, its handler";
}

TEST_F(CatchUpTest, TheAttachTimerFiringAfterAPauseNeitherAttachesNorSkipsEvents) {
  // The race of issue #10: the attach timer's completion was already queued when the
  // catch-up paused; it must not attach at a cursor past events that were never handed on.
  auto catch_up = make(slots_);
  catch_up->start(Cursor::at(10, 1));
  ring_reaches_back_ = true;
  emit(*sources_[0], 11);
  far_ahead_ = true;
  emit(*sources_[0], 12);  // the client is far behind: pause after 12
  EXPECT_EQ(catch_up->state(), CatchUp::State::kPaused);
  EXPECT_TRUE(sources_[0]->stopped) << "pausing stops the source at once";
  emit(*sources_[0], 13);                   // a stopped source delivers nothing more
  sources_[0]->cursor = Cursor::at(20, 1);  // its cursor may run ahead: never used again
  catch_up->on_retry_timer();               // the queued completion runs now
  EXPECT_TRUE(attach_calls_.empty());
  EXPECT_EQ(catch_up->state(), CatchUp::State::kPaused);
  EXPECT_EQ(delivered_, (std::vector<std::int64_t>{11, 12}));
  ASSERT_TRUE(catch_up->paused_at());
  EXPECT_EQ(*catch_up->paused_at(), Cursor::at(12, 1));
  EXPECT_EQ(slots_.running(), 0);

  // The client read its backlog: exactly one new read, from right after 12.
  far_ahead_ = false;
  ring_reaches_back_ = false;
  catch_up->resume();
  catch_up->resume();  // a second resume (another write completing) changes nothing
  ASSERT_EQ(sources_.size(), 2u);
  EXPECT_EQ(sources_[1]->from, Cursor::at(12, 1));
  EXPECT_EQ(reading_sources(), 1);
  EXPECT_EQ(slots_.running(), 1);
  emit(*sources_[1], 13);
  ring_reaches_back_ = true;
  catch_up->on_retry_timer();
  EXPECT_EQ(catch_up->state(), CatchUp::State::kAttached);
  EXPECT_EQ(attach_calls_, (std::vector<std::int64_t>{13}));
  EXPECT_EQ(delivered_, (std::vector<std::int64_t>{11, 12, 13})) << "none skipped, none twice";
}

TEST_F(CatchUpTest, AnAttachedCatchUpIsNeverResumedIntoASecondRead) {
  auto catch_up = make(slots_);
  catch_up->start(Cursor::at(10, 1));
  emit(*sources_[0], 11);
  ring_reaches_back_ = true;
  catch_up->on_retry_timer();
  ASSERT_EQ(catch_up->state(), CatchUp::State::kAttached);
  catch_up->resume();  // what the client's next write completion does
  catch_up->on_retry_timer();
  EXPECT_EQ(sources_.size(), 1u) << "no second catch-up on the attached subscription";
  EXPECT_EQ(attach_calls_.size(), 1u) << "attached once: the subscription is once in the hub";
  EXPECT_EQ(catch_up->state(), CatchUp::State::kAttached);
}

TEST_F(CatchUpTest, TheTimerRunsByItselfOnTheLoop) {
  auto catch_up = std::make_shared<CatchUp>(
      io_, CatchUp::Options{.table = {"public", "messages"}, .retry = std::chrono::milliseconds(1)},
      slots_,
      [this](boost::asio::io_context&, const TableName&, const Cursor& from) {
        auto state = std::make_shared<SourceState>();
        state->from = state->cursor = from;
        sources_.push_back(state);
        return std::make_unique<FakeSource>(state);
      },
      CatchUp::Hooks{.deliver = [](const hub::SharedEvent&) {},
                     .far_ahead = [] { return false; },
                     .attach = [](const Cursor&) { return true; },
                     .failed = [](const std::exception_ptr&) {}});
  catch_up->start(Cursor::at(10, 1));
  io_.run_for(std::chrono::milliseconds(200));
  EXPECT_EQ(catch_up->state(), CatchUp::State::kAttached);
}

TEST_F(CatchUpTest, WaitsForASlotWhenTheServerReadsTooManyAlready) {
  CatchUpSlots one(1);
  auto first = make(one);
  auto second = make(one);
  first->start(Cursor::at(10, 1));
  second->start(Cursor::at(20, 1));
  EXPECT_EQ(second->state(), CatchUp::State::kWaiting);
  EXPECT_EQ(sources_.size(), 1u);
  second->on_retry_timer();  // still no slot
  EXPECT_EQ(sources_.size(), 1u);
  ring_reaches_back_ = true;
  first->on_retry_timer();  // the first attaches and gives its slot back
  second->on_retry_timer();
  EXPECT_EQ(second->state(), CatchUp::State::kReading);
  ASSERT_EQ(sources_.size(), 2u);
  EXPECT_EQ(sources_[1]->from, Cursor::at(20, 1));
  EXPECT_EQ(one.running(), 1);
}

TEST_F(CatchUpTest, AFailedReadReportsOnceAndGivesItsSlotBack) {
  auto catch_up = make(slots_);
  catch_up->start(Cursor::at(10, 1));
  sources_[0]->on_error(std::make_exception_ptr(std::runtime_error("gone")));
  EXPECT_EQ(catch_up->state(), CatchUp::State::kFailed);
  EXPECT_EQ(failures_, 1);
  EXPECT_EQ(slots_.running(), 0);
  catch_up->on_retry_timer();
  catch_up->resume();
  EXPECT_EQ(sources_.size(), 1u);
}

TEST_F(CatchUpTest, StopEndsTheReadNowAndGivesItsSlotBack) {
  auto catch_up = make(slots_);
  catch_up->start(Cursor::at(10, 1));
  catch_up->stop();
  EXPECT_EQ(catch_up->state(), CatchUp::State::kStopped);
  EXPECT_TRUE(sources_[0]->destroyed) << "not inside a handler: destroyed at once";
  EXPECT_EQ(slots_.running(), 0);
  catch_up->on_retry_timer();
  catch_up->resume();
  EXPECT_EQ(sources_.size(), 1u);
}

TEST_F(CatchUpTest, APausedCatchUpThatIsStoppedIsNotResumed) {
  auto catch_up = make(slots_);
  catch_up->start(Cursor::at(10, 1));
  far_ahead_ = true;
  emit(*sources_[0], 11);
  ASSERT_EQ(catch_up->state(), CatchUp::State::kPaused);
  catch_up->stop();
  catch_up->resume();
  EXPECT_EQ(sources_.size(), 1u);
  EXPECT_EQ(slots_.running(), 0);
}

}  // namespace
}  // namespace pgpulse::gateway
