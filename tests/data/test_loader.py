import torch

from genzoo.data import ImageSplit, TensorBatchLoader


def toy_split(n=103):
    return ImageSplit(torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1), scale=1.0)


def ids(batch):
    return batch.flatten().long().tolist()


def test_processes_share_each_global_batch_disjointly():
    split = toy_split()
    loaders = [TensorBatchLoader(split, 5, seed=1, process_index=r, num_processes=2) for r in range(2)]
    single = TensorBatchLoader(split, 10, seed=1)
    for _ in range(25):  # more than one epoch (10 global batches of 10 per epoch)
        parts = [ids(next(l)) for l in loaders]
        assert not set(parts[0]) & set(parts[1])
        assert parts[0] + parts[1] == ids(next(single))


def test_epochs_cover_data_once_and_reshuffle():
    loader = TensorBatchLoader(toy_split(100), 10, seed=0)
    first = sum((ids(next(loader)) for _ in range(10)), [])
    second = sum((ids(next(loader)) for _ in range(10)), [])
    assert sorted(first) == sorted(second) == list(range(100)) and first != second


def test_state_dict_resumes_the_same_batches():
    loader = TensorBatchLoader(toy_split(), 7, seed=2)
    for _ in range(20):
        next(loader)
    state = loader.state_dict()
    expected = [ids(next(loader)) for _ in range(10)]
    resumed = TensorBatchLoader(toy_split(), 7, seed=2)
    resumed.load_state_dict(state)
    assert [ids(next(resumed)) for _ in range(10)] == expected
