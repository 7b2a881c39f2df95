// Token ids checked once per dataset range, before any shard reads them.
//
// The model checks each batch as it embeds it, but an LLC chain draws random
// minibatches: a bad token in a sequence no minibatch happened to draw let a
// shard finish as done, and the message named a batch position. So before a
// task runs, every token it can read — the first seq_len + 1 tokens of each
// sequence of its range — is compared with the checkpoint's vocabulary, and
// the first bad one is reported by its sequence number in the dataset.
//
// A passed check is remembered in OUT/cache/token_checks/<key>.json, keyed by
// the dataset's path, the size and modification time of its .idx and .bin, the
// range, the window and the vocabulary size, so a rerun or another rank does
// not scan again (and a changed dataset is scanned again).
#pragma once

#include <cstdint>
#include <string>

#include "formats/megatron.h"
#include "pipeline/job_spec.h"

namespace llcpress {

// Throws InputError naming `key`, the dataset and the sequence number when a
// token of sequences [range.begin, range.end) (first `window` tokens of each)
// is outside [0, vocab). `cache_directory` empty: no on-disk cache.
void check_token_ids(const formats::MegatronDataset& dataset, const SequenceRange& range, int window,
                     std::int64_t vocab, const std::string& key, const std::string& cache_directory);

}  // namespace llcpress
