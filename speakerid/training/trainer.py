"""The TensorFlow side of training: batches, steps, validation, checkpoints.

Every run goes through a ``tf.distribute`` strategy (:func:`make_strategy`): TensorFlow's default
strategy when ``distribute`` is "none", which changes nothing, so one code path serves a laptop, a
multi-GPU machine and several workers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from .. import numerals
from ..config import PipelineConfig
from ..datasets import SpeakerSource
from ..errors import SpeakerIDError
from ..features import frames_per_second, log_mel_batch
from ..i18n import _, pgettext
from ..models.encoder import Encoder
from ..models.networks import build_encoder
from ..models.objectives import AdditiveAngularMargin, contrastive_loss, euclidean_distance
from ..runtime import single_threaded_blas
from ..scoring import score_matrix
from .augment import AugmentConfig, augment_batch
from .cache import SpeakerAudio
from .evaluate import as_distance, evaluate_items, fit_scoring
from .metrics import equal_error_rate, pair_scores
from .monitor import RunMonitor
from .settings import TrainSettings

VALIDATION_WINDOWS_PER_SPEAKER = 4
VALIDATION_WINDOW_S = 3.0  # short enough that every speaker's held-back audio holds several


class WarmupPolynomialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up, then polynomial (power 1) decay to zero: the reference's schedule."""

    def __init__(self, peak: float, warmup_steps: int, total_steps: int) -> None:
        self.peak, self.warmup, self.total = peak, max(1, warmup_steps), max(total_steps, warmup_steps + 1)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = self.peak * (step + 1.0) / self.warmup
        decay = self.peak * tf.maximum(0.0, 1.0 - (step - self.warmup) / (self.total - self.warmup))
        return tf.where(step < self.warmup, warm, decay)

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup, "total_steps": self.total}


def make_strategy(distribute: str) -> tf.distribute.Strategy:
    """The strategy for ``TrainSettings.distribute``. MultiWorkerMirrored reads the cluster from
    $TF_CONFIG (unset: this machine alone) and must exist before TensorFlow runs any op."""
    if distribute == "mirrored":
        return tf.distribute.MirroredStrategy()
    if distribute == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


class Trainer:
    def __init__(self, settings: TrainSettings, pipeline: PipelineConfig, audio: list[SpeakerAudio],
                 run_dir: Path, monitor: RunMonitor, progress: bool) -> None:
        self.strategy = make_strategy(settings.distribute)
        single_threaded_blas()
        keras.utils.set_random_seed(settings.seed)
        self.settings, self.pipeline, self.run_dir = settings, pipeline, run_dir
        self.monitor, self.progress = monitor, progress
        monitor.update(replicas=self.strategy.num_replicas_in_sync)  # shows what was really used
        self.rate = pipeline.preprocess.sample_rate
        self.model_config = settings.model()
        self.train_audio, self.validation_audio = _split_time(audio, settings.train_fraction)
        self.steps_per_epoch = self._steps_per_epoch()
        with self.strategy.scope():  # variables (and the optimizer's) mirrored on every replica
            self.network = build_encoder(self.model_config, pipeline.features.n_mels,
                                         settings.imagenet_weights)
            if settings.init_from:
                self._start_from(Path(settings.init_from))
            self.head = None
            if settings.recipe == "aam":
                self.head = AdditiveAngularMargin(len(audio), settings.aam_margin, settings.aam_scale,
                                                  name="aam_head")
                self.head.build((None, self.model_config.embedding_dim))
                if settings.init_from:
                    self.head.centres.assign(self._speaker_centres())
            total = self.steps_per_epoch * settings.epochs
            self.optimizer = keras.optimizers.Adam(
                WarmupPolynomialDecay(settings.learning_rate, settings.warmup_steps, total), name="adam")
            self.optimizer.build(self._variables())
        # The history rows as JSON: saved with the weights they belong to.
        self._history = tf.Variable("[]", dtype=tf.string, trainable=False)
        self._checkpoints = tf.train.CheckpointManager(
            tf.train.Checkpoint(variables=self._checkpoint_variables(), history=self._history),
            run_dir / "checkpoint", max_to_keep=1)
        self.validation = self._validation_windows()

    def _start_from(self, model_dir: Path) -> None:
        """Copy a trained encoder's weights in (its network and pipeline are this run's: see
        :meth:`TrainSettings.model`)."""
        self.network.set_weights(Encoder.load(model_dir).network.get_weights())

    def _speaker_centres(self) -> np.ndarray:
        """Each training speaker's unit mean embedding from the starting encoder, (dim, speakers).

        A fine-tuning head that starts at these centres already knows the speakers. A random one
        sends large gradients back through the encoder in the first steps and undoes what it had
        learnt: fine-tuning the shipped model that way at 5e-4 raised its held-out LibriSpeech
        EER from 7.5 to 17 %.
        """
        encoder = Encoder(self.network, self.pipeline, self.model_config)
        return np.stack([encoder.embed_features(self._log_mel(speaker.joined()))
                         for speaker in self.train_audio], axis=1)

    # --- the loop --------------------------------------------------------------------------------
    def fit(self, resume: bool) -> bool:
        """Train until the last epoch (True) or a stop request (False, checkpoint saved)."""
        history = self._restore() if resume else []
        step_fn = self._pair_step() if self.settings.recipe == "reference" else self._class_step()
        for epoch in range(len(history), self.settings.epochs):
            began = time.time()
            losses = []
            batches = self._batches(epoch)
            bar = tqdm(total=self.steps_per_epoch, desc=_("epoch {epoch}/{epochs}").format(
                           epoch=numerals.number(epoch + 1), epochs=numerals.number(self.settings.epochs)),
                       disable=not self.progress, unit=pgettext("progress unit", "step"))
            for step, batch in enumerate(batches):
                losses.append(float(step_fn(*batch)))
                bar.update(1)
                bar.set_postfix_str(_("loss {loss:.3f}").format(loss=np.mean(losses[-20:])))
                self.monitor.update(state="running", epoch=epoch + 1, step=step + 1,
                                    steps=self.steps_per_epoch, message=f"loss {np.mean(losses[-20:]):.3f}")
                if self.monitor.should_stop():
                    bar.close()
                    self._save_checkpoint(history)  # the interrupted epoch is redone on resume
                    return False
            bar.close()
            history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), **self.validate(),
                            "learning_rate": float(self.optimizer.learning_rate),
                            "seconds": time.time() - began})
            self._save_checkpoint(history)
        return True

    def validate(self) -> dict[str, float]:
        """Mean same/different distance and EER on the last 20 % of the training speakers' audio."""
        windows, labels = self.validation
        vectors = np.concatenate([self.network(windows[i:i + 64], training=False).numpy()
                                  for i in range(0, len(windows), 64)])
        metric = self.model_config.metric
        scores, same = pair_scores(score_matrix(vectors, vectors, metric), labels)
        distance = as_distance(scores, metric)
        return {"same_distance": float(distance[same].mean()),
                "different_distance": float(distance[~same].mean()),
                "eer": equal_error_rate(scores, same)[0]}

    def finalise(self, calibration_speakers: list[SpeakerSource], training: list[SpeakerSource]) -> Path:
        """Calibrate on held-out speakers, evaluate, save ``model/`` with its history."""
        encoder = Encoder(self.network, self.pipeline, self.model_config)
        extra = {"recipe": self.settings.recipe, "settings": self.settings.to_dict(),
                 "trained_on": [s.name for s in training],
                 "calibrated_on": [s.name for s in calibration_speakers]}
        if len(calibration_speakers) >= 2:
            items = fit_scoring(encoder, training, calibration_speakers, seed=self.settings.seed)
            report = evaluate_items(items, encoder, encoder.threshold)
            (self.run_dir / "evaluation.json").write_text(json.dumps(report.to_dict(), indent=2))
        model_dir = encoder.save(self.run_dir / "model", extra)
        history = self.run_dir / "history.csv"
        if history.is_file():
            (model_dir / "history.csv").write_bytes(history.read_bytes())
        return model_dir

    # --- data ------------------------------------------------------------------------------------
    def _steps_per_epoch(self) -> int:
        if self.settings.recipe == "aam":
            return self.settings.steps_per_epoch
        return max(1, len(self._pair_plan(0)[0]) // self.settings.batch_size)

    def _batches(self, epoch: int):
        """The epoch's global batches, each split into one part per replica.

        A generated dataset has no files to shard, so several workers shard it by data: each
        generates every batch and keeps its own part.
        """
        reference = self.settings.recipe == "reference"
        dataset = self._pair_batches(epoch) if reference else self._crop_batches(epoch)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return self.strategy.experimental_distribute_dataset(dataset.with_options(options))

    def _crop_batches(self, epoch: int) -> tf.data.Dataset:
        """Random 2 s crops of random speakers, generated ahead of the step by tf.data.

        Augmentation and log-mel run inside the training step (:meth:`_featurise`), not in a
        parallel ``map``: with TensorFlow 2.21's oneDNN kernels, a map running beside the step
        crashed the process, and on 2 cores there is little to overlap anyway.
        """
        crop = int(self.settings.crop_s * self.rate)
        signals = [a.joined() for a in self.train_audio]
        size, steps = self.settings.batch_size, self.steps_per_epoch

        def generate():
            rng = np.random.default_rng([self.settings.seed, epoch])
            for _step in range(steps):
                labels = rng.integers(0, len(signals), size)
                yield np.stack([_random_crop(signals[k], crop, rng) for k in labels]), labels.astype(np.int32)

        dataset = tf.data.Dataset.from_generator(
            generate, output_signature=(tf.TensorSpec([size, crop], tf.float32),
                                        tf.TensorSpec([size], tf.int32)))
        return dataset.prefetch(2)

    def _featurise(self, waves: tf.Tensor) -> tf.Tensor:
        if self.settings.augment:
            waves = augment_batch(waves, self.rate, AugmentConfig())
        return _spec_augment(log_mel_batch(waves, self.rate, self.pipeline.features))

    def _pair_plan(self, epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The reference's pairs: (speaker a, speaker b, same) for 100 same pairs per speaker and
        25 different pairs per other speaker, optionally subsampled in proportion."""
        n = len(self.train_audio)
        s = self.settings
        same = np.repeat(np.arange(n), s.same_pairs_per_speaker)
        a, b = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        off = a != b
        diff_a = np.repeat(a[off], s.different_pairs_per_other_speaker)
        diff_b = np.repeat(b[off], s.different_pairs_per_other_speaker)
        first = np.concatenate([same, diff_a])
        second = np.concatenate([same, diff_b])
        label = np.concatenate([np.ones(len(same)), np.zeros(len(diff_a))]).astype(np.float32)
        rng = np.random.default_rng([s.seed, epoch])
        order = rng.permutation(len(first))
        if s.max_pairs_per_epoch:
            order = order[:s.max_pairs_per_epoch]
        return first[order], second[order], label[order]

    def _pair_batches(self, epoch: int) -> tf.data.Dataset:
        """Pairs of log-mel windows cut from each speaker's precomputed training spectrogram."""
        if not hasattr(self, "_train_mels"):  # computed here, not in tf.data's generator thread
            self._train_mels = [self._log_mel(a.joined()) for a in self.train_audio]
        frames = int(round(self.pipeline.features.window_s * frames_per_second(self.pipeline)))
        first, second, label = self._pair_plan(epoch)
        size, n_mels = self.settings.batch_size, self.pipeline.features.n_mels

        def generate():
            rng = np.random.default_rng([self.settings.seed, epoch, 1])
            for start in range(0, self.steps_per_epoch * size, size):
                rows = slice(start, start + size)
                left = np.stack([_random_crop(self._train_mels[k], frames, rng) for k in first[rows]])
                right = np.stack([_random_crop(self._train_mels[k], frames, rng) for k in second[rows]])
                yield left, right, label[rows]

        window = tf.TensorSpec([size, frames, n_mels], tf.float32)
        return tf.data.Dataset.from_generator(
            generate, output_signature=(window, window, tf.TensorSpec([size], tf.float32)))

    def _validation_windows(self) -> tuple[np.ndarray, np.ndarray]:
        frames = int(round(VALIDATION_WINDOW_S * frames_per_second(self.pipeline)))
        rng = np.random.default_rng(self.settings.seed + 1)
        windows, labels = [], []
        for speaker in self.validation_audio:
            mel = self._log_mel(speaker.joined())
            for _window in range(VALIDATION_WINDOWS_PER_SPEAKER):
                windows.append(_random_crop(mel, frames, rng))
                labels.append(speaker.name)
        return np.stack(windows), np.array(labels)

    def _log_mel(self, signal: np.ndarray) -> np.ndarray:
        return log_mel_batch(tf.constant(signal[None]), self.rate, self.pipeline.features)[0].numpy()

    # --- steps -----------------------------------------------------------------------------------
    def _variables(self) -> list:
        head = self.head.trainable_variables if self.head is not None else []
        return self.network.trainable_variables + head

    def _apply(self, tape, loss) -> None:
        variables = self._variables()
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

    def _class_step(self):
        def replica_step(waves, labels):
            features = self._featurise(waves)
            with tf.GradientTape() as tape:
                logits = self.head(self.network(features, training=True), labels)
                loss = tf.nn.compute_average_loss(
                    tf.keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True),
                    global_batch_size=self.settings.batch_size)
            self._apply(tape, loss)
            return loss
        return self._distributed(replica_step)

    def _pair_step(self):
        def replica_step(left, right, same):
            with tf.GradientTape() as tape:
                both = self.network(tf.concat([left, right], 0), training=True)
                a, b = tf.split(both, 2)
                mean = contrastive_loss(same, euclidean_distance(a, b), self.settings.margin)
                loss = mean * tf.cast(tf.shape(same)[0], tf.float32) / self.settings.batch_size
            self._apply(tape, loss)
            return loss
        return self._distributed(replica_step)

    def _distributed(self, replica_step):
        """One training step on every replica's part of the batch; returns the global batch's mean loss.

        Each replica's loss is its examples' sum over the *global* batch size, so that the
        gradients, summed across replicas when applied, are those of the global mean. Traced without
        AutoGraph: the step has no Python control flow on tensors (augmentation and SpecAugment
        choose with tf.where), and converting its 30-odd functions took 3-4 s of every run's start.
        """
        @tf.function(reduce_retracing=True, autograph=False)
        def step(*batch):
            losses = self.strategy.run(replica_step, args=batch)
            return self.strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)
        return step

    # --- checkpoints -----------------------------------------------------------------------------
    def _checkpoint_variables(self) -> dict[str, tf.Variable]:
        """Every weight and optimizer variable, keyed by its path: layers, head and optimizer are
        named, so a resumed run finds each value by name, never by position."""
        head = self.head.weights if self.head is not None else []
        return {v.path: v for v in self.network.weights + head + self.optimizer.variables}

    def _save_checkpoint(self, history: list[dict[str, float]]) -> None:
        """Weights, optimizer state and the history rows of the epochs they have seen, in one
        TensorFlow checkpoint: its state file names it only once it is whole, so a kill at any
        point leaves the previous one in force. history.csv is then rewritten from the rows."""
        self._history.assign(json.dumps(history))
        self._checkpoints.save()
        self.monitor.write_history(history)

    def _restore(self) -> list[dict[str, float]]:
        """The history rows of the latest checkpoint, after loading it (none: start afresh); the
        next epoch to train is the one after them."""
        latest = self._checkpoints.latest_checkpoint
        history: list[dict[str, float]] = []
        if latest is not None:
            try:
                self._checkpoints.checkpoint.restore(latest).assert_consumed()
                history = json.loads(self._history.numpy().decode())
            except (ValueError, AssertionError, tf.errors.OpError) as exc:
                raise SpeakerIDError(_("{latest} cannot be resumed (damaged, or not this run's "
                                       "checkpoint): {problem}").format(
                                           latest=latest,
                                           problem=' '.join(str(exc).split())[:300])) from None
        self.monitor.write_history(history)  # a kill may have come between checkpoint and csv
        return history


def _split_time(audio: list[SpeakerAudio], fraction: float) -> tuple[list[SpeakerAudio], list[SpeakerAudio]]:
    """First ``fraction`` of each speaker's speech for training, the rest for validation."""
    train, validation = [], []
    for speaker in audio:
        joined = speaker.joined()
        cut = int(len(joined) * fraction)
        train.append(SpeakerAudio(speaker.name, (joined[:cut],)))
        validation.append(SpeakerAudio(speaker.name, (joined[cut:],)))
    return train, validation


def _random_crop(array: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``size`` slice along axis 0; shorter inputs are tiled up to ``size``."""
    if len(array) < size:
        array = np.concatenate([array] * (size // max(1, len(array)) + 1))
    start = rng.integers(0, len(array) - size + 1)
    return array[start:start + size].astype(np.float32)


def _spec_augment(mel: tf.Tensor, max_bands: int = 8, max_frames: int = 20) -> tf.Tensor:
    """One frequency mask and one time mask per example (SpecAugment), filled with the mean."""
    batch, frames, bands = tf.shape(mel)[0], tf.shape(mel)[1], tf.shape(mel)[2]

    def mask(length, widest):
        width = tf.random.uniform([batch, 1], 0, widest + 1, tf.int32)
        start = tf.random.uniform([batch, 1], 0, tf.maximum(length - widest, 1), tf.int32)
        index = tf.range(length)[None, :]
        return (index >= start) & (index < start + width)

    hidden = mask(frames, max_frames)[:, :, None] | mask(bands, max_bands)[:, None, :]
    return tf.where(hidden, tf.reduce_mean(mel, axis=[1, 2], keepdims=True), mel)
