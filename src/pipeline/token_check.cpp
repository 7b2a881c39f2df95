#include "pipeline/token_check.h"

#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/check.h"
#include "formats/atomic_file.h"
#include "pipeline/shard_settings.h"

namespace llcpress {

namespace fs = std::filesystem;

namespace {

// Size and modification time (ns) of a file, as the cache key sees it.
nlohmann::json file_identity(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return nullptr;
  return {{"size", static_cast<std::int64_t>(info.st_size)},
          {"mtime_ns", static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec}};
}

}  // namespace

void check_token_ids(const formats::MegatronDataset& dataset, const SequenceRange& range, int window,
                     std::int64_t vocab, const std::string& key, const std::string& cache_directory) {
  const std::string prefix = fs::absolute(dataset.prefix()).lexically_normal().string();
  const nlohmann::json identity = {{"dataset", prefix},
                                   {"idx", file_identity(prefix + ".idx")},
                                   {"bin", file_identity(prefix + ".bin")},
                                   {"sequences", range.to_string()},
                                   {"window", window},
                                   {"vocab", vocab}};
  const fs::path cache_file =
      cache_directory.empty() ? fs::path() : fs::path(cache_directory) / (settings_digest(identity) + ".json");
  std::error_code ignored;
  if (!cache_file.empty() && fs::exists(cache_file, ignored)) return;

  std::vector<std::int32_t> tokens(static_cast<std::size_t>(window));
  for (std::int64_t i = range.begin; i < range.end; ++i) {
    dataset.read_tokens(static_cast<std::size_t>(i), 0, tokens);
    for (int position = 0; position < window; ++position)
      LLC_CHECK(tokens[position] >= 0 && tokens[position] < vocab, InputError, key,
                "the tokens must come from the model's tokenizer (vocab_size in config.json); fix the dataset or "
                "choose a range without this sequence",
                "sequence {} of {} holds token {} at position {}, outside the vocabulary [0, {}) of the checkpoint", i,
                prefix, tokens[position], position, vocab);
  }
  if (cache_file.empty()) return;
  // A cache is an optimisation: failing to write it costs a scan next time, nothing more.
  try {
    fs::create_directories(cache_file.parent_path());
    const std::string text = identity.dump(2) + "\n";
    formats::AtomicFileWriter writer(cache_file.string());
    writer.write(text.data(), text.size());
    writer.commit();
  } catch (const std::exception&) {
  }
}

}  // namespace llcpress
