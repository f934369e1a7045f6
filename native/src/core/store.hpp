// The seats, as seatlab/store.py: O(1) book/cancel under one mutex, each change journaled first.
//
// A free seat is either released (a stack of numbers) or never handed out (every number from
// next_unused_ up). A change the journal refuses (DbWriteError) is undone and the error propagates,
// so the service answers INTERNAL and memory, file and answers agree. The delay of a request is
// spent before the store is called, never under the lock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "journal.hpp"

namespace seatlab {

class SeatStore {
 public:
  SeatStore(std::uint32_t capacity, std::unique_ptr<Journal> journal,
            const std::map<std::uint32_t, std::string>& seats);
  std::uint32_t book(const std::string& uuid);    // the seat's number; 0: sold out. Idempotent per uuid.
  std::uint32_t cancel(const std::string& uuid);  // the freed seat's number; 0: the uuid holds none
  std::uint32_t capacity() const { return capacity_; }
  std::uint32_t booked();
  void commit();  // --sync fsync: the changes so far are durable
  void close();
  bool needs_commit() const { return journal_ && journal_->sync() == Sync::fsync; }

 private:
  std::uint32_t capacity_;
  std::unique_ptr<Journal> journal_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::uint32_t> number_of_;
  std::unordered_map<std::uint32_t, std::string> uuid_of_;
  std::vector<std::uint32_t> released_;
  std::uint64_t next_unused_;
};

}  // namespace seatlab
