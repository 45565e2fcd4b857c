"""Encoder-decoder LSTM with attention and a pointer (copy-position) output.

Source: ``question <sep> context`` token ids plus per-token features (encoding.py).

* Encoder: word embedding ++ token features ++ a question summary (mean of the question
  embeddings through a small dense layer, broadcast to every position, so the forward
  LSTM knows the question while it reads the context) -> bidirectional LSTM.
* Decoder: LSTM started from the encoder's final states. Its input at each step is the
  embedding of the previous output token ++ the encoder output at the source position it
  copied (zeros after <bos> or a generated word), so it knows where it is in the span.
* Each step attends over the source (additive attention), mixes the decoder state and
  the attention context, and scores one softmax over ``[vocabulary ∪ source positions]``:
  the first len(vocab) classes generate a word (<eos> included), class len(vocab)+i
  copies source token i. This is the pointer-generator's mixture written as a single
  softmax: the model itself decides between generating and copying. Only context
  positions are copyable. Pointer scores also see the offset of each position from the
  previously copied one (a learned embedding of -2..+3), so continuing a span is easy.

Greedy decoding runs inside one ``tf.function`` (a ``tf.while_loop`` over decoder steps,
batched, stopping when every row has emitted <eos>), exported as the SavedModel endpoint
``serve(ids, feats, copy_mask) -> {classes, confidence, no_answer}``; serving needs only
``tf.saved_model.load``. Keras and TensorFlow are imported lazily (fork safety).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from pathlib import Path

from services.chatbot.encoding import BOS, COL_QUESTION, EOS, N_FEATURES, PAD, SPECIALS

N_OFFSETS = 7  # pointer offset buckets: none, <=-2, -1, 0, +1, +2, >=+3
NEG = -1e9


@dataclass
class ModelConfig:
    """Sizes of the network."""

    vocab_size: int
    embed_dim: int = 64
    question_dim: int = 32
    enc_units: int = 96  # per direction
    dec_units: int = 128
    attn_units: int = 64
    dropout: float = 0.1
    max_answer: int = 16  # decoder steps at serving time, <eos> included


def offset_buckets(prev_pos, width):
    """Bucket of (source position - previously copied position), 0 when nothing copied.

    prev_pos: [B, T] int32; returns [B, T, width] int32.
    """
    import tensorflow as tf

    delta = tf.range(width)[None, None, :] - prev_pos[:, :, None]
    bucket = tf.clip_by_value(delta, -2, 3) + 3
    return tf.where(prev_pos[:, :, None] < 0, 0, bucket)


@functools.cache
def seq2seq_class():
    """The Keras model class, defined on first use so importing this module loads no TF."""
    import keras
    import tensorflow as tf

    layers = keras.layers

    class Seq2Seq(keras.Model):
        """See the module docstring."""

        def __init__(self, config: dict, **kwargs):
            super().__init__(**kwargs)
            self.config = dict(config)
            cfg = ModelConfig(**config)
            self.vocab_size = cfg.vocab_size
            self.embed = layers.Embedding(cfg.vocab_size, cfg.embed_dim, name="embed")
            self.question_proj = layers.Dense(cfg.question_dim, activation="tanh", name="question")
            self.encoder = layers.Bidirectional(
                layers.LSTM(cfg.enc_units, return_sequences=True, return_state=True),
                name="encoder")
            self.init_h = layers.Dense(cfg.dec_units, activation="tanh", name="init_h")
            self.init_c = layers.Dense(cfg.dec_units, name="init_c")
            self.decoder = layers.LSTM(cfg.dec_units, return_sequences=True, name="decoder")
            self.att_keys = layers.Dense(cfg.attn_units, use_bias=False, name="att_keys")
            self.att_query = layers.Dense(cfg.attn_units, name="att_query")
            self.att_score = layers.Dense(1, use_bias=False, name="att_score")
            self.ptr_keys = layers.Dense(cfg.attn_units, use_bias=False, name="ptr_keys")
            self.ptr_query = layers.Dense(cfg.attn_units, name="ptr_query")
            self.ptr_offset = layers.Embedding(N_OFFSETS, cfg.attn_units, name="ptr_offset")
            self.ptr_score = layers.Dense(1, use_bias=False, name="ptr_score")
            self.mix = layers.Dense(cfg.dec_units, activation="tanh", name="mix")
            self.vocab_out = layers.Dense(cfg.vocab_size, name="vocab_out")
            self.drop = layers.Dropout(cfg.dropout)
            # never generate <pad>, <unk>, <bos>, <sep>; <eos> and words stay allowed
            bias = [NEG if i < len(SPECIALS) and i != EOS else 0.0 for i in range(cfg.vocab_size)]
            self.vocab_bias = tf.constant(bias, tf.float32)

        def get_config(self) -> dict:
            return {"config": self.config}

        def encode(self, ids, feats, training=False):
            """Encoder outputs [B,S,2H], decoder start state, attention and pointer keys."""
            emb = self.embed(ids)
            qmask = feats[:, :, COL_QUESTION:COL_QUESTION + 1]
            qmean = tf.reduce_sum(emb * qmask, 1) / tf.maximum(tf.reduce_sum(qmask, 1), 1.0)
            question = self.question_proj(qmean)
            width = tf.shape(ids)[1]
            x = tf.concat([emb, feats, tf.tile(question[:, None, :], [1, width, 1])], -1)
            x = self.drop(x, training=training)
            outs, fh, fc, bh, bc = self.encoder(x, mask=ids != PAD, training=training)
            state = [self.init_h(tf.concat([fh, bh], -1)), self.init_c(tf.concat([fc, bc], -1))]
            return outs, state, self.att_keys(outs), self.ptr_keys(outs)

        def decoder_input(self, enc, prev_ids, prev_pos):
            """Previous token's embedding ++ encoder output at the previously copied position."""
            at = tf.gather(enc, tf.maximum(prev_pos, 0), batch_dims=1)
            at = at * tf.cast(prev_pos >= 0, at.dtype)[..., None]
            return tf.concat([self.embed(prev_ids), at], -1)

        def scores(self, s, prev_pos, memory, training=False):
            """Logits [B,T,V+S] for decoder states s [B,T,D]."""
            enc, att_keys, ptr_keys, ids, copy_mask = memory
            e = self.att_score(tf.tanh(att_keys[:, None] + self.att_query(s)[:, :, None]))[..., 0]
            e = tf.where((ids != PAD)[:, None, :], e, NEG)
            context = tf.einsum("bts,bsh->bth", tf.nn.softmax(e, -1), enc)
            mixed = self.drop(self.mix(tf.concat([s, context], -1)), training=training)
            offsets = self.ptr_offset(offset_buckets(prev_pos, tf.shape(ids)[1]))
            p = tf.tanh(ptr_keys[:, None] + self.ptr_query(mixed)[:, :, None] + offsets)
            p = tf.where((copy_mask > 0)[:, None, :], self.ptr_score(p)[..., 0], NEG)
            return tf.concat([self.vocab_out(mixed) + self.vocab_bias, p], -1)

        def call(self, inputs, training=False):
            """Teacher-forced logits: inputs (ids, feats, copy_mask, prev_ids, prev_pos)."""
            ids, feats, copy_mask, prev_ids, prev_pos = inputs
            enc, state, att_keys, ptr_keys = self.encode(ids, feats, training)
            x = self.decoder_input(enc, prev_ids, prev_pos)
            s = self.decoder(x, initial_state=state, training=training)
            memory = (enc, att_keys, ptr_keys, ids, copy_mask)
            return self.scores(s, prev_pos, memory, training)

        @tf.autograph.experimental.do_not_convert  # explicit tf.while_loop; nothing to convert
        def greedy(self, ids, feats, copy_mask, max_steps: int):
            """Greedy decode of a batch; returns classes [B,T] (-1 after <eos>) and confidence."""
            enc, state, att_keys, ptr_keys = self.encode(ids, feats)
            memory = (enc, att_keys, ptr_keys, ids, copy_mask)
            batch = tf.shape(ids)[0]
            loop = dict(t=tf.constant(0), h=state[0], c=state[1],
                        tok=tf.fill([batch], BOS), pos=tf.fill([batch], -1),
                        done=tf.zeros([batch], tf.bool), logp=tf.zeros([batch]),
                        steps=tf.zeros([batch]), null=tf.zeros([batch]),
                        out=tf.TensorArray(tf.int32, size=0, dynamic_size=True,
                                           element_shape=tf.TensorShape([None])))

            def cond(v):
                return tf.logical_and(v["t"] < max_steps, tf.logical_not(tf.reduce_all(v["done"])))

            def body(v):
                return self._greedy_step(v, ids, memory)

            final = tf.while_loop(cond, lambda v: [body(v)], [loop])[0]
            classes = tf.transpose(final["out"].stack())
            confidence = tf.exp(final["logp"] / tf.maximum(final["steps"], 1.0))
            return {"classes": classes, "confidence": confidence, "no_answer": final["null"]}

        def _greedy_step(self, v, ids, memory):
            """One decoder step for the whole batch (rows already done emit -1)."""
            x = self.decoder_input(memory[0], v["tok"][:, None], v["pos"][:, None])[:, 0]
            h, (h, c) = self.decoder.cell(x, [v["h"], v["c"]])
            probs = tf.nn.softmax(self.scores(h[:, None], v["pos"][:, None], memory)[:, 0], -1)
            best = tf.argmax(probs, -1, output_type=tf.int32)
            live = tf.logical_not(v["done"])
            best = tf.where(live, best, -1)
            logp = v["logp"] + tf.where(live, tf.math.log(tf.reduce_max(probs, -1) + 1e-12), 0.0)
            copied = best >= self.vocab_size
            pos = tf.where(copied, best - self.vocab_size, -1)
            tok = tf.where(copied, tf.gather(ids, tf.maximum(pos, 0), batch_dims=1),
                           tf.maximum(best, PAD))
            # P(<eos> first): the model's "the context does not say" probability
            null = tf.where(v["t"] == 0, probs[:, EOS], v["null"])
            return dict(t=v["t"] + 1, h=h, c=c, tok=tok, pos=pos,
                        done=tf.logical_or(v["done"], best == EOS), logp=logp,
                        steps=v["steps"] + tf.cast(live, tf.float32), null=null,
                        out=v["out"].write(v["t"], best))

    return Seq2Seq


def build_model(cfg: ModelConfig):
    """A new (unbuilt) network for `cfg`."""
    return seq2seq_class()(asdict(cfg), name="chatbot_seq2seq")


def export(model, out_dir: Path, max_steps: int) -> None:
    """Write the SavedModel with the single compiled endpoint ``serve``.

    serve(ids int32[B,S], feats float32[B,S,F], copy_mask float32[B,S])
      -> {"classes": int32[B,T], "confidence": float32[B], "no_answer": float32[B]}
    """
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve",
        fn=lambda ids, feats, copy_mask: model.greedy(ids, feats, copy_mask, max_steps),
        input_signature=[
            tf.TensorSpec([None, None], tf.int32, name="ids"),
            tf.TensorSpec([None, None, N_FEATURES], tf.float32, name="feats"),
            tf.TensorSpec([None, None], tf.float32, name="copy_mask"),
        ],
    )
    archive.write_out(str(out_dir), verbose=False)
