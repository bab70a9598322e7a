"""The tokenizer job: sample Korean/English text from ``training_corpus`` (:mod:`.sample`), steer the Korean
byte share while training the byte-level BPE (:mod:`.train`), save it and measure its compression on the
held-out documents (:mod:`.job`). The training, steering math and evaluation themselves are :mod:`tokenizer`'s,
which needs no Spark."""
