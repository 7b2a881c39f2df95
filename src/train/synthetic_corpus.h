// A deterministic synthetic language for the embedded demo suite: token
// sequences with structure at several scales, so that a small transformer's
// loss keeps falling through training (each scale is learnt at a different
// time) and a wider model reaches a lower loss (the tables below hold more
// facts than the smallest demo model can store).
//
// Scales, from the shortest to the longest range:
//   1. unigram: a Zipf law over the content tokens, shared by all documents;
//   2. first-order Markov: each token has a few likely successors;
//   3. phrases: fixed multi-token templates with slots filled from small word
//      classes (predictable only from two or more tokens of context);
//   4. copies: a span of the document repeated later (induction heads);
//   5. topics: each document draws a topic that boosts a set of topic words and
//      replaces part of the successor table and the phrase list, so the model
//      must infer the topic from the document so far.
// Every table and every document is a pure function of (seed, ids) through
// the Philox counter RNG, so a corpus is reproducible byte for byte and any
// document can be generated on its own.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace llcpress {

struct CorpusConfig {
  std::uint64_t seed = 1234;
  int vocab_size = 512;       // token 0 starts every sequence; 1..V-1 are content
  int sequence_tokens = 129;  // T + 1 (Pythia layout: inputs [0, T), targets [1, T])
  double zipf_exponent = 1.1;

  int num_topics = 8;
  int topic_words = 48;                // tokens each topic boosts
  double topic_word_weight = 0.4;      // share of unigram draws from the topic words
  int successors = 4;                  // likely successors per (topic, token)
  double topic_successor_share = 0.5;  // fraction of (topic, token) pairs with their own successor list
  double markov_probability = 0.8;     // otherwise a unigram draw

  int num_phrases = 96;
  int phrases_per_topic = 12;
  int phrase_min_length = 3;
  int phrase_max_length = 7;
  double phrase_slot_probability = 0.25;  // a phrase position is a slot rather than a fixed token
  int num_word_classes = 16;
  int word_class_size = 6;
  double phrase_probability = 0.08;  // per free position

  double copy_probability = 0.025;  // per free position past copy_min_position
  int copy_min_length = 6;
  int copy_max_length = 16;
  int copy_min_position = 16;

  void validate() const;
  nlohmann::json to_json() const;
};

// Which mechanism produced a token (for tests and corpus statistics).
enum class TokenSource : std::uint8_t { Start, Unigram, Markov, Phrase, Copy };

// Dataset splits draw their documents from disjoint RNG streams.
enum class CorpusSplit : std::uint8_t { Train = 1, Heldout = 2 };

class SyntheticLanguage {
 public:
  explicit SyntheticLanguage(CorpusConfig config);

  const CorpusConfig& config() const { return config_; }
  // Sequence `index` of `split`: config().sequence_tokens tokens in [0, V).
  // `sources` and `topic`, when given, receive each token's mechanism and the
  // document's topic.
  std::vector<std::int32_t> generate(CorpusSplit split, std::uint64_t index,
                                     std::vector<TokenSource>* sources = nullptr, int* topic = nullptr) const;

  struct Phrase {
    std::vector<std::int32_t> slots;  // >= 0: a fixed token; < 0: word class (−1 − class)
  };

 private:
  CorpusConfig config_;
  int content_tokens_ = 0;                                // V − 1
  std::vector<double> global_cumulative_;                 // (V − 1) Zipf law over ranks, cumulative
  std::vector<std::int32_t> rank_to_token_;               // (V − 1) token of each Zipf rank
  std::vector<std::vector<std::int32_t>> topic_words_;    // (topics, topic_words)
  std::vector<std::vector<std::int32_t>> successors_;     // (topics · V, successors)
  std::vector<double> successor_cumulative_;              // (successors)
  std::vector<Phrase> phrases_;                           // (num_phrases)
  std::vector<std::vector<std::int32_t>> topic_phrases_;  // (topics, phrases_per_topic)
  std::vector<double> topic_phrase_cumulative_;           // (phrases_per_topic) Zipf
  std::vector<std::vector<std::int32_t>> word_classes_;   // (classes, class_size)

  std::int32_t draw_global(double uniform) const;
};

// Writes `count` sequences of `split` as a Megatron u16 dataset PREFIX.{idx,bin}.
void write_synthetic_split(const std::string& prefix, const SyntheticLanguage& language, CorpusSplit split,
                           std::size_t count);

// Plug-in entropies (nats) of a token stream, for checking that the structure
// is present: H(X), H(X_t | X_{t−1}) and H(X_t | X_{t−1}, X_{t−2}) over the
// targets of each sequence.
struct EmpiricalEntropy {
  double unigram = 0.0;
  double bigram = 0.0;
  double trigram = 0.0;
};
EmpiricalEntropy empirical_entropy(const std::vector<std::vector<std::int32_t>>& sequences, int vocab_size);

}  // namespace llcpress
