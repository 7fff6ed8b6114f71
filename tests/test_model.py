import torch

from poemnet.training.model import PoemLSTM


def test_step_over_a_sequence_equals_forward():
    torch.manual_seed(0)
    model = PoemLSTM(vocab_size=50, embedding_dim=16, hidden_dim=24, num_layers=2, dropout=0.3).eval()
    tokens = torch.randint(0, 50, (3, 12))
    with torch.no_grad():
        full = model(tokens)
        h, c = model.init_state(3)
        stepped = []
        for t in range(tokens.size(1)):
            logits, h, c = model.step(tokens[:, t], h, c)
            stepped.append(logits)
    assert full.shape == (3, 12, 50)
    torch.testing.assert_close(torch.stack(stepped, dim=1), full, rtol=0, atol=1e-5)
