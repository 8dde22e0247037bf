"""The from-scratch classifiers; each maps ``(input_ids, attention_mask)`` (B, T) to logits (B, C).

The pretrained-encoder classifier is public: :class:`mltasks_text.encoders.EncoderClassifier`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

KERNELS = (3, 4, 5)


class TextCNN(nn.Module):
    """Kim (2014): embeddings, parallel 1-D convolutions of widths 3/4/5, max over time, dropout, linear.

    :param vocab_size: number of token ids.
    :param num_classes: output classes.
    :param embed_dim: embedding size.
    :param filters: feature maps per kernel width.
    :param dropout: dropout before the classifier.
    :param pad_id: the padding token id (its embedding stays zero).
    """

    def __init__(self, vocab_size: int, num_classes: int, embed_dim: int = 128, filters: int = 128,
                 dropout: float = 0.5, pad_id: int = 0) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, filters, k) for k in KERNELS)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(filters * len(KERNELS), num_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits (B, C)."""
        x = self.embed(input_ids).transpose(1, 2)  # (B, E, T)
        pooled = []
        for conv in self.convs:
            h = torch.relu(conv(x))  # (B, F, T - k + 1)
            valid = attention_mask[:, conv.kernel_size[0] - 1:].unsqueeze(1).bool()  # windows ending on real tokens
            pooled.append(h.masked_fill(~valid, 0.0).amax(dim=2))  # (B, F); ReLU output >= 0, so 0 is neutral
        return self.out(self.dropout(torch.cat(pooled, dim=1)))


class BiLSTM(nn.Module):
    """Embeddings, a bidirectional LSTM over the packed sequence, masked mean+max pooling, linear.

    :param vocab_size: number of token ids.
    :param num_classes: output classes.
    :param embed_dim: embedding size.
    :param hidden: LSTM units per direction.
    :param dropout: dropout on the embeddings and before the classifier.
    :param pad_id: the padding token id.
    """

    def __init__(self, vocab_size: int, num_classes: int, embed_dim: int = 128, hidden: int = 128,
                 dropout: float = 0.5, pad_id: int = 0) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.lstm = nn.LSTM(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(4 * hidden, num_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits (B, C)."""
        lengths = attention_mask.sum(dim=1).clamp(min=1).cpu()
        x = self.dropout(self.embed(input_ids))  # (B, T, E)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        h, _ = self.lstm(packed)
        h, _ = pad_packed_sequence(h, batch_first=True, total_length=input_ids.shape[1])  # (B, T, 2H)
        mask = attention_mask.unsqueeze(2).to(h.dtype)  # (B, T, 1)
        mean = (h * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        peak = h.masked_fill(mask == 0, float("-inf")).amax(dim=1)
        return self.out(self.dropout(torch.cat([mean, peak], dim=1)))  # (B, 4H) -> (B, C)
