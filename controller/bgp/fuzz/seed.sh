#!/usr/bin/env bash
# Seeds the fuzz corpora from the captured fixtures: `message` gets whole messages, `update`
# gets UPDATE bodies; both with a leading context byte (0x3f = 4-octet AS, extended
# messages, all families for `update`; 0x00 = Context::all() for `message`).
set -eu
cd "$(dirname "$0")"
mkdir -p corpus/update corpus/message
for f in ../tests/fixtures/frr-gobgp/*.bin ../tests/fixtures/malformed/*.bin; do
  n=$(basename "$f" .bin)
  { printf '\x00'; cat "$f"; } > "corpus/message/$n"
  if [[ $n == *update* ]]; then
    { printf '\x3f'; tail -c +20 "$f"; } > "corpus/update/$n"
  fi
done
echo "seeded: $(ls corpus/message | wc -l) messages, $(ls corpus/update | wc -l) updates"
