"""The small Transformer of examples/transformer.md, built only from code/layers.py.

A causal (decoder-only) Transformer reads eight digits and a separator, then writes the digits
in reverse order, one token at a time: the sequence ``3 1 4 1 5 9 2 6 | 6 2 9 5 1 4 1 3``.
``TinyTransformer`` chains ``Embedding``, ``PositionalEncoding``, pre-norm
``TransformerEncoderLayer`` blocks under a causal mask and a ``Linear`` read-out; its ``params``
and ``grads`` use the names of a torch module with attributes ``embed``, ``blocks`` and
``head``, so its weights load into such a module with ``load_state_dict``.
"""

import numpy as np

from layers import (AdamW, CrossEntropyLoss, Embedding, Linear, PositionalEncoding, TransformerEncoderLayer,
                    clip_grad_norm_)

DIGITS = 8  # digits per sequence
SEP = 10  # the separator token; tokens 0 to 9 are the digits
VOCAB = 11


def make_batch(rng, n, digits=DIGITS):
    """``n`` sequences ``x_1 ... x_D SEP x_D ... x_1`` as ``(inputs, targets)``, each ``(n, 2D)``:
    at position ``t`` the model has read ``inputs[:, :t+1]`` and must predict ``targets[:, t]``,
    the next token. Only the last ``D`` targets, the reversed digits, can be predicted."""
    x = rng.integers(0, 10, (n, digits))
    sequence = np.concatenate([x, np.full((n, 1), SEP), x[:, ::-1]], axis=1)  # (n, 2D + 1)
    return sequence[:, :-1], sequence[:, 1:]


def causal_mask(T):
    """(T, T) boolean mask, True above the diagonal: position t may not attend to t + 1, t + 2, ..."""
    return np.triu(np.ones((T, T), dtype=bool), k=1)


class TinyTransformer:
    """Embedding -> PositionalEncoding -> ``num_layers`` pre-norm TransformerEncoderLayer under a
    causal mask -> Linear to the logits of the next token. Input tokens ``(N, T)``, output
    ``(N, T, VOCAB)``."""

    def __init__(self, d_model=32, nhead=4, dim_feedforward=64, num_layers=2, *, rng=None):
        rng = np.random.default_rng(rng)
        self.embed = Embedding(VOCAB, d_model, rng=rng)
        self.position = PositionalEncoding(d_model, max_len=2 * DIGITS, batch_first=True)
        self.blocks = [TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.0, batch_first=True,
                                               norm_first=True, rng=rng) for _ in range(num_layers)]
        self.head = Linear(d_model, VOCAB, rng=rng)
        self.training = True

    def _named(self):
        return {"embed": self.embed, **{f"blocks.{i}": b for i, b in enumerate(self.blocks)}, "head": self.head}

    @property
    def params(self):  # torch's state_dict names: "embed.weight", "blocks.0.self_attn.in_proj_weight", ...
        return {f"{name}.{k}": a for name, layer in self._named().items() for k, a in layer.params.items()}

    @property
    def grads(self):
        return {f"{name}.{k}": a for name, layer in self._named().items() for k, a in layer.grads.items()}

    def forward(self, tokens):
        mask = causal_mask(tokens.shape[1])
        h = self.position(self.embed(tokens))  # (N, T, d_model)
        for block in self.blocks:
            h = block(h, src_mask=mask)
        return self.head(h)  # (N, T, VOCAB)

    def backward(self, d_logits):
        dh = self.head.backward(d_logits)
        for block in reversed(self.blocks):
            dh = block.backward(dh)
        self.embed.backward(self.position.backward(dh))  # fills the embedding's gradient

    def attention(self, tokens):
        """The attention weights of every block, ``(num_layers, N, nhead, T, T)``, for ``tokens``."""
        mask = causal_mask(tokens.shape[1])
        h = self.position(self.embed(tokens))
        weights = []
        for block in self.blocks:
            x = block.norm1(h)  # pre-norm: the attention reads the normalised input
            _, w = block.self_attn(x, x, x, attn_mask=mask, average_attn_weights=False)
            weights.append(w)
            h = block(h, src_mask=mask)
        return np.stack(weights)

    def train(self, mode=True):
        self.training = mode
        for layer in self._named().values():
            layer.train() if mode else layer.eval()
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward


def train(model, steps, *, batch_size=64, lr=3e-3, max_norm=1.0, seed=1):
    """Train ``model`` on ``steps`` fresh batches with AdamW and gradient clipping; return the
    loss of every step. The loss counts only the answer: the positions that predict the
    reversed digits."""
    data = np.random.default_rng(seed)
    loss_fn, optimiser = CrossEntropyLoss(), AdamW(model, lr=lr)
    losses = []
    for step in range(steps):
        inputs, targets = make_batch(data, batch_size)
        logits = model(inputs)  # (N, 2D, VOCAB)
        answer = logits[:, DIGITS:]  # (N, D, VOCAB): the positions that write the answer
        losses.append(loss_fn(answer.reshape(-1, VOCAB), targets[:, DIGITS:].reshape(-1)))
        d_logits = np.zeros_like(logits)  # the question's positions get no gradient
        d_logits[:, DIGITS:] = loss_fn.backward().reshape(answer.shape)
        model.backward(d_logits)
        clip_grad_norm_(model, max_norm)  # in place, before the step
        optimiser.step()
    return losses


def accuracy(model, inputs, targets):
    """Fraction of answer tokens predicted right, each from the true tokens before it."""
    predicted = model(inputs)[:, DIGITS:].argmax(axis=-1)
    return float(np.mean(predicted == targets[:, DIGITS:]))
