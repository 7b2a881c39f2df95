// The synthetic corpus: reproducible, in range, and with the structure the
// demo suite relies on (each scale measurably lowers the entropy).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "core/error.h"
#include "train/synthetic_corpus.h"

namespace llcpress {
namespace {

std::vector<std::vector<std::int32_t>> sample(const SyntheticLanguage& language, CorpusSplit split, int count) {
  std::vector<std::vector<std::int32_t>> sequences;
  for (int i = 0; i < count; ++i) sequences.push_back(language.generate(split, i));
  return sequences;
}

TEST(SyntheticCorpus, IsDeterministicAndSplitsDiffer) {
  CorpusConfig config;
  SyntheticLanguage first(config), second(config);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(first.generate(CorpusSplit::Train, i), second.generate(CorpusSplit::Train, i)) << i;
    EXPECT_EQ(first.generate(CorpusSplit::Heldout, i), second.generate(CorpusSplit::Heldout, i)) << i;
    EXPECT_NE(first.generate(CorpusSplit::Train, i), first.generate(CorpusSplit::Heldout, i)) << i;
  }
  EXPECT_NE(first.generate(CorpusSplit::Train, 0), first.generate(CorpusSplit::Train, 1));
  CorpusConfig other = config;
  other.seed += 1;
  SyntheticLanguage reseeded(other);
  EXPECT_NE(first.generate(CorpusSplit::Train, 0), reseeded.generate(CorpusSplit::Train, 0));
}

TEST(SyntheticCorpus, TokensInRangeWithStartToken) {
  CorpusConfig config;
  config.vocab_size = 300;
  config.sequence_tokens = 65;
  SyntheticLanguage language(config);
  for (int i = 0; i < 200; ++i) {
    std::vector<TokenSource> sources;
    auto tokens = language.generate(CorpusSplit::Train, i, &sources);
    ASSERT_EQ(tokens.size(), 65u);
    ASSERT_EQ(sources.size(), 65u);
    EXPECT_EQ(tokens[0], 0);
    EXPECT_EQ(sources[0], TokenSource::Start);
    for (std::size_t t = 1; t < tokens.size(); ++t) {
      EXPECT_GE(tokens[t], 1);
      EXPECT_LT(tokens[t], 300);
    }
  }
}

TEST(SyntheticCorpus, CopiesRepeatAnEarlierSpan) {
  CorpusConfig config;
  SyntheticLanguage language(config);
  int copy_runs = 0;
  for (int i = 0; i < 100; ++i) {
    std::vector<TokenSource> sources;
    auto tokens = language.generate(CorpusSplit::Train, i, &sources);
    for (std::size_t t = 1; t < tokens.size(); ++t) {
      if (sources[t] != TokenSource::Copy || sources[t - 1] == TokenSource::Copy) continue;
      ++copy_runs;
      // A run may be cut by the sequence end or followed by another copy, but
      // its first min(copy_min_length, remaining) tokens come from one span.
      const std::size_t length = std::min<std::size_t>(config.copy_min_length, tokens.size() - t);
      bool found = false;
      for (std::size_t start = 1; start + length <= t && !found; ++start)
        found = std::equal(tokens.begin() + start, tokens.begin() + start + length, tokens.begin() + t);
      EXPECT_TRUE(found) << "sequence " << i << " position " << t;
    }
  }
  EXPECT_GT(copy_runs, 50);  // ≈ 2 per sequence at the default rates
}

TEST(SyntheticCorpus, EveryMechanismContributes) {
  SyntheticLanguage language(CorpusConfig{});
  std::map<TokenSource, int> counts;
  int total = 0;
  for (int i = 0; i < 200; ++i) {
    std::vector<TokenSource> sources;
    language.generate(CorpusSplit::Train, i, &sources);
    for (std::size_t t = 1; t < sources.size(); ++t, ++total) ++counts[sources[t]];
  }
  for (TokenSource source : {TokenSource::Unigram, TokenSource::Markov, TokenSource::Phrase, TokenSource::Copy})
    EXPECT_GT(counts[source], total / 50) << static_cast<int>(source);
}

TEST(SyntheticCorpus, EntropyDecreasesWithContext) {
  CorpusConfig config;
  SyntheticLanguage language(config);
  const int count = 2000;  // 256k target tokens
  auto sequences = sample(language, CorpusSplit::Train, count);
  const EmpiricalEntropy entropy = empirical_entropy(sequences, config.vocab_size);
  const double uniform = std::log(config.vocab_size);
  // Plug-in estimates are biased low by about (occupied cells − contexts)/(2N)
  // nats (Miller–Madow): ≤ 511/(2·256k) ≈ 0.001 for the unigram and, with at
  // most ~20 observed successors per context, ≤ 511·20/(2·256k) ≈ 0.02 for the
  // bigram. The margins below are many times those biases, so they test the
  // generator's structure, not the estimator's bias.
  EXPECT_LT(entropy.unigram, uniform - 0.3) << "Zipf unigram law missing";
  EXPECT_LT(entropy.bigram, entropy.unigram - 1.0) << "successor tables missing";

  // Topics: the unigram law given the document's topic has lower entropy.
  std::vector<std::vector<double>> by_topic(config.num_topics, std::vector<double>(config.vocab_size, 0.0));
  std::vector<double> overall(config.vocab_size, 0.0);
  double total = 0.0;
  for (int i = 0; i < count; ++i) {
    int topic = -1;
    auto tokens = language.generate(CorpusSplit::Train, i, nullptr, &topic);
    ASSERT_GE(topic, 0);
    ASSERT_LT(topic, config.num_topics);
    for (std::size_t t = 1; t < tokens.size(); ++t, total += 1) {
      by_topic[topic][tokens[t]] += 1;
      overall[tokens[t]] += 1;
    }
  }
  auto entropy_of = [](const std::vector<double>& counts) {
    double sum = 0, value = 0;
    for (double c : counts) sum += c;
    for (double c : counts)
      if (c > 0) value -= c / sum * std::log(c / sum);
    return std::pair{value, sum};
  };
  double conditional = 0.0;
  for (const auto& counts : by_topic) {
    auto [h, n] = entropy_of(counts);
    conditional += n / total * h;
  }
  // Bias of the topic-conditional estimate: ≤ 8·511/(2·256k) ≈ 0.008 nats.
  EXPECT_LT(conditional, entropy_of(overall).first - 0.1) << "topics do not change the token law";
}

TEST(EmpiricalEntropy, HandComputedExample) {
  // Targets 1, 1, 2, 2 after the start token 0. H(X) = ln 2. Given the
  // previous token: after 0 and after 2 the next token is certain, after 1
  // (half of the pairs) it is 1 or 2 equally: H = ½ ln 2. Given two tokens every
  // context is followed by a single token: H = 0.
  const EmpiricalEntropy entropy = empirical_entropy({{0, 1, 1, 2, 2}}, 4);
  EXPECT_NEAR(entropy.unigram, std::log(2.0), 1e-12);
  EXPECT_NEAR(entropy.bigram, 0.5 * std::log(2.0), 1e-12);
  EXPECT_NEAR(entropy.trigram, 0.0, 1e-12);
}

TEST(SyntheticCorpus, RejectsBadConfig) {
  CorpusConfig config;
  config.vocab_size = 70000;
  EXPECT_THROW(SyntheticLanguage{config}, ConfigError);
  config = CorpusConfig{};
  config.phrase_probability = 0.9;
  config.copy_probability = 0.2;
  EXPECT_THROW(SyntheticLanguage{config}, ConfigError);
}

}  // namespace
}  // namespace llcpress
