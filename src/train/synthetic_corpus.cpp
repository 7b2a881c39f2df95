#include "train/synthetic_corpus.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "core/check.h"
#include "core/rng.h"

namespace llcpress {
namespace {

// RNG purposes: the language tables and the documents use separate streams.
constexpr std::uint64_t kTablesPurpose = 0x7461626C6573ull;    // "tables"
constexpr std::uint64_t kDocumentPurpose = 0x646F63756D6Eull;  // "documn"

// Sequential uniforms in (0, 1) from one Philox stream, 32 bits each (a
// float's 24 bits would make the Zipf tail of a 511-token law too coarse).
class UniformDraws {
 public:
  UniformDraws(std::uint64_t seed, std::uint64_t stream) : seed_(seed), stream_(stream) {}
  double next() {
    if (lane_ == 4) {
      block_ = philox_bits(seed_, stream_, index_++);
      lane_ = 0;
    }
    return (static_cast<double>(block_.v[lane_++]) + 0.5) * (1.0 / 4294967296.0);
  }
  // Uniform integer in [low, high].
  int integer(int low, int high) {
    const int span = high - low + 1;
    return low + std::min(span - 1, static_cast<int>(next() * span));
  }

 private:
  std::uint64_t seed_, stream_, index_ = 0;
  r123::Philox4x32::ctr_type block_{};
  int lane_ = 4;
};

std::vector<double> zipf_cumulative(int count, double exponent) {
  std::vector<double> cumulative(count);
  double total = 0.0;
  for (int rank = 0; rank < count; ++rank) {
    total += std::pow(static_cast<double>(rank + 1), -exponent);
    cumulative[rank] = total;
  }
  for (double& value : cumulative) value /= total;
  return cumulative;
}

// Index i with cumulative[i − 1] < u ≤ cumulative[i].
int draw_cumulative(const std::vector<double>& cumulative, double uniform) {
  auto it = std::lower_bound(cumulative.begin(), cumulative.end(), uniform);
  return static_cast<int>(
      std::min<std::ptrdiff_t>(it - cumulative.begin(), static_cast<std::ptrdiff_t>(cumulative.size()) - 1));
}

}  // namespace

void CorpusConfig::validate() const {
  auto check = [](bool ok, const char* key, const std::string& what) {
    LLC_CHECK(ok, ConfigError, std::string("corpus.") + key, "choose a value in the stated range", "{}", what);
  };
  check(vocab_size >= 16 && vocab_size <= 65536, "vocab_size",
        fmt::format("vocab_size {} must be in [16, 65536] (tokens are stored as u16)", vocab_size));
  check(sequence_tokens >= 2, "sequence_tokens", fmt::format("sequence_tokens {} must be >= 2", sequence_tokens));
  check(zipf_exponent > 0.0, "zipf_exponent", "zipf_exponent must be positive");
  check(num_topics >= 1, "num_topics", "num_topics must be >= 1");
  check(topic_words >= 1 && topic_words < vocab_size, "topic_words", "topic_words must be in [1, V)");
  check(topic_word_weight >= 0.0 && topic_word_weight <= 1.0, "topic_word_weight", "must be in [0, 1]");
  check(successors >= 1 && successors <= std::min(16, vocab_size / 4), "successors", "must be in [1, min(16, V/4)]");
  check(topic_successor_share >= 0.0 && topic_successor_share <= 1.0, "topic_successor_share", "must be in [0, 1]");
  check(markov_probability >= 0.0 && markov_probability <= 1.0, "markov_probability", "must be in [0, 1]");
  check(num_phrases >= 1, "num_phrases", "must be >= 1");
  check(phrases_per_topic >= 1 && phrases_per_topic <= num_phrases, "phrases_per_topic", "must be in [1, num_phrases]");
  check(phrase_min_length >= 1 && phrase_max_length >= phrase_min_length, "phrase_min_length",
        "need 1 <= phrase_min_length <= phrase_max_length");
  check(phrase_slot_probability >= 0.0 && phrase_slot_probability <= 1.0, "phrase_slot_probability",
        "must be in [0, 1]");
  check(num_word_classes >= 1 && word_class_size >= 1, "num_word_classes", "need >= 1 class of >= 1 word");
  check(copy_min_length >= 1 && copy_max_length >= copy_min_length, "copy_min_length",
        "need 1 <= copy_min_length <= copy_max_length");
  check(copy_min_position >= 1, "copy_min_position", "must be >= 1");
  check(phrase_probability >= 0.0 && copy_probability >= 0.0 && phrase_probability + copy_probability <= 1.0,
        "phrase_probability", "phrase_probability + copy_probability must be in [0, 1]");
}

nlohmann::json CorpusConfig::to_json() const {
  return {{"seed", seed},
          {"vocab_size", vocab_size},
          {"sequence_tokens", sequence_tokens},
          {"zipf_exponent", zipf_exponent},
          {"num_topics", num_topics},
          {"topic_words", topic_words},
          {"topic_word_weight", topic_word_weight},
          {"successors", successors},
          {"topic_successor_share", topic_successor_share},
          {"markov_probability", markov_probability},
          {"num_phrases", num_phrases},
          {"phrases_per_topic", phrases_per_topic},
          {"phrase_min_length", phrase_min_length},
          {"phrase_max_length", phrase_max_length},
          {"phrase_slot_probability", phrase_slot_probability},
          {"num_word_classes", num_word_classes},
          {"word_class_size", word_class_size},
          {"phrase_probability", phrase_probability},
          {"copy_probability", copy_probability},
          {"copy_min_length", copy_min_length},
          {"copy_max_length", copy_max_length},
          {"copy_min_position", copy_min_position}};
}

SyntheticLanguage::SyntheticLanguage(CorpusConfig config) : config_(std::move(config)) {
  config_.validate();
  const int vocab = config_.vocab_size;
  content_tokens_ = vocab - 1;
  global_cumulative_ = zipf_cumulative(content_tokens_, config_.zipf_exponent);

  // A random permutation decides which content token has which Zipf rank, so
  // frequent tokens are scattered over the id range as in a real tokenizer.
  UniformDraws draws(config_.seed, stream_id(kTablesPurpose, 0));
  std::vector<std::int32_t> rank_to_token(content_tokens_);
  for (int i = 0; i < content_tokens_; ++i) rank_to_token[i] = i + 1;
  for (int i = content_tokens_ - 1; i > 0; --i) std::swap(rank_to_token[i], rank_to_token[draws.integer(0, i)]);
  rank_to_token_ = std::move(rank_to_token);

  auto distinct_tokens = [&](int count, auto draw_one) {
    std::vector<std::int32_t> chosen;
    // Bounded retries: with count ≤ V/4 a fresh token is found quickly; after
    // the bound a duplicate is accepted rather than looping forever.
    for (int attempt = 0; static_cast<int>(chosen.size()) < count; ++attempt) {
      std::int32_t token = draw_one();
      if (attempt < 64 * count && std::find(chosen.begin(), chosen.end(), token) != chosen.end()) continue;
      chosen.push_back(token);
    }
    return chosen;
  };
  auto uniform_content = [&] { return static_cast<std::int32_t>(draws.integer(1, content_tokens_)); };

  topic_words_.resize(config_.num_topics);
  for (auto& words : topic_words_) words = distinct_tokens(config_.topic_words, uniform_content);

  // Successor lists: a global list per token, and per topic either that list
  // or the topic's own (drawn from the topic's unigram law).
  const int topics = config_.num_topics;
  successors_.assign(static_cast<std::size_t>(topics) * vocab, {});
  std::vector<std::vector<std::int32_t>> global_successors(vocab);
  for (int token = 1; token < vocab; ++token)
    global_successors[token] = distinct_tokens(config_.successors, [&] { return draw_global(draws.next()); });
  for (int topic = 0; topic < topics; ++topic) {
    for (int token = 1; token < vocab; ++token) {
      auto& list = successors_[static_cast<std::size_t>(topic) * vocab + token];
      if (draws.next() < config_.topic_successor_share) {
        list = distinct_tokens(config_.successors, [&] {
          return draws.next() < config_.topic_word_weight
                     ? topic_words_[topic][draws.integer(0, config_.topic_words - 1)]
                     : draw_global(draws.next());
        });
      } else {
        list = global_successors[token];
      }
    }
  }
  // Successor probabilities fall geometrically (ratio 1/2): a peaked but not
  // deterministic next-token law, H ≈ 1.2 nats for four successors.
  successor_cumulative_.resize(config_.successors);
  double total = 0.0;
  for (int j = 0; j < config_.successors; ++j) successor_cumulative_[j] = (total += std::pow(0.5, j));
  for (double& value : successor_cumulative_) value /= total;

  word_classes_.resize(config_.num_word_classes);
  for (auto& words : word_classes_) words = distinct_tokens(config_.word_class_size, uniform_content);

  phrases_.resize(config_.num_phrases);
  for (Phrase& phrase : phrases_) {
    const int length = draws.integer(config_.phrase_min_length, config_.phrase_max_length);
    for (int position = 0; position < length; ++position) {
      // The first position is always a fixed token, so a phrase can be
      // recognised from its opening.
      if (position > 0 && draws.next() < config_.phrase_slot_probability)
        phrase.slots.push_back(-1 - draws.integer(0, config_.num_word_classes - 1));
      else
        phrase.slots.push_back(uniform_content());
    }
  }
  topic_phrases_.resize(topics);
  for (auto& list : topic_phrases_) {
    list = distinct_tokens(config_.phrases_per_topic, [&] { return draws.integer(0, config_.num_phrases - 1); });
  }
  topic_phrase_cumulative_ = zipf_cumulative(config_.phrases_per_topic, 1.0);
}

std::int32_t SyntheticLanguage::draw_global(double uniform) const {
  return rank_to_token_[draw_cumulative(global_cumulative_, uniform)];
}

std::vector<std::int32_t> SyntheticLanguage::generate(CorpusSplit split, std::uint64_t index,
                                                      std::vector<TokenSource>* sources, int* topic_out) const {
  const int length = config_.sequence_tokens;
  const int vocab = config_.vocab_size;
  UniformDraws draws(config_.seed, stream_id(kDocumentPurpose, static_cast<std::uint64_t>(split), index));
  const int topic = draws.integer(0, config_.num_topics - 1);
  if (topic_out) *topic_out = topic;

  std::vector<std::int32_t> tokens;
  tokens.reserve(length);
  std::vector<TokenSource> kinds;
  kinds.reserve(length);
  tokens.push_back(0);
  kinds.push_back(TokenSource::Start);

  // Tokens already decided by a phrase or a copy, emitted before anything new.
  std::vector<std::int32_t> pending;
  TokenSource pending_source = TokenSource::Phrase;
  std::size_t pending_next = 0;

  while (static_cast<int>(tokens.size()) < length) {
    if (pending_next < pending.size()) {
      tokens.push_back(pending[pending_next++]);
      kinds.push_back(pending_source);
      continue;
    }
    const int position = static_cast<int>(tokens.size());
    const double choice = draws.next();
    if (choice < config_.copy_probability && position >= config_.copy_min_position &&
        position - 1 >= config_.copy_min_length) {
      // Repeat an earlier span (never the start token at 0).
      const int span = std::min(draws.integer(config_.copy_min_length, config_.copy_max_length), position - 1);
      const int start = draws.integer(1, position - span);
      pending.assign(tokens.begin() + start, tokens.begin() + start + span);
      pending_source = TokenSource::Copy;
      pending_next = 0;
      continue;
    }
    if (choice < config_.copy_probability + config_.phrase_probability) {
      const auto& list = topic_phrases_[topic];
      const Phrase& phrase = phrases_[list[draw_cumulative(topic_phrase_cumulative_, draws.next())]];
      pending.clear();
      for (std::int32_t slot : phrase.slots) {
        if (slot >= 0) {
          pending.push_back(slot);
        } else {
          const auto& words = word_classes_[-1 - slot];
          pending.push_back(words[draws.integer(0, static_cast<int>(words.size()) - 1)]);
        }
      }
      pending_source = TokenSource::Phrase;
      pending_next = 0;
      continue;
    }
    const std::int32_t previous = tokens.back();
    if (previous != 0 && draws.next() < config_.markov_probability) {
      const auto& list = successors_[static_cast<std::size_t>(topic) * vocab + previous];
      tokens.push_back(list[draw_cumulative(successor_cumulative_, draws.next())]);
      kinds.push_back(TokenSource::Markov);
    } else {
      const double which = draws.next();
      tokens.push_back(which < config_.topic_word_weight
                           ? topic_words_[topic][draws.integer(0, config_.topic_words - 1)]
                           : draw_global(draws.next()));
      kinds.push_back(TokenSource::Unigram);
    }
  }
  if (sources) *sources = std::move(kinds);
  return tokens;
}

EmpiricalEntropy empirical_entropy(const std::vector<std::vector<std::int32_t>>& sequences, int vocab_size) {
  // H(X_t | context) = H(context, X_t) − H(context), each from plug-in counts.
  std::unordered_map<std::uint64_t, std::uint64_t> unigram, bigram, trigram, context1, context2;
  const auto key = [vocab_size](std::uint64_t a, std::uint64_t b) { return a * vocab_size + b; };
  for (const auto& tokens : sequences) {
    for (std::size_t t = 1; t < tokens.size(); ++t) {
      const std::uint64_t current = static_cast<std::uint32_t>(tokens[t]);
      const std::uint64_t previous = static_cast<std::uint32_t>(tokens[t - 1]);
      ++unigram[current];
      ++bigram[key(previous, current)];
      ++context1[previous];
      if (t >= 2) {
        const std::uint64_t before = static_cast<std::uint32_t>(tokens[t - 2]);
        ++trigram[key(key(before, previous), current)];
        ++context2[key(before, previous)];
      }
    }
  }
  const auto entropy = [](const std::unordered_map<std::uint64_t, std::uint64_t>& counts) {
    double total = 0.0;
    for (const auto& [_, count] : counts) total += static_cast<double>(count);
    double value = 0.0;
    for (const auto& [_, count] : counts) {
      const double p = static_cast<double>(count) / total;
      value -= p * std::log(p);
    }
    return value;
  };
  EmpiricalEntropy result;
  result.unigram = entropy(unigram);
  result.bigram = entropy(bigram) - entropy(context1);
  result.trigram = entropy(trigram) - entropy(context2);
  return result;
}

}  // namespace llcpress
