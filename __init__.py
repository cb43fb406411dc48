"""nbasim: a simulator for Next Best Action marketing.

Importing `nbasim` registers the gymnasium environments `nbasim/NextBestAction-v0` and
`nbasim/CampaignDay-v0`. The parts:

- `nbasim.sim`: the world (population, geography, catalog, behaviour, response, calendar);
- `nbasim.envs`: the gymnasium environments over it;
- `nbasim.policies`: one batched policy interface, baselines, bandits and the oracle;
- `nbasim.experiments`: configs, the runner, metrics, reports and the `nbasim` command line.

In a notebook::

    import gymnasium, nbasim
    from nbasim import policies

    env = gymnasium.make("nbasim/CampaignDay-v0", customers=2_000, days=30)
    policy = policies.make("linucb", action_features=env.unwrapped.action_features,
                           dim_context=len(env.unwrapped.feature_names), seed=0)
    print(nbasim.run_episode(env, policy, seed=0))
"""

from nbasim import envs  # noqa: F401  (registers the environments)
from nbasim.errors import NbasimError

EPISODE_NAMES = ("Episode", "Step", "run_episode", "steps")
"""`nbasim.envs.episode`'s public names, imported on first use: `import nbasim` stays light
(the `nbasim` command starts its Ctrl-C guard before the world's modules load)."""


def __getattr__(name: str) -> object:
    if name in EPISODE_NAMES:
        from nbasim.envs import episode

        return getattr(episode, name)
    raise AttributeError(f"module 'nbasim' has no attribute {name!r}")


__all__ = ["NbasimError", *EPISODE_NAMES]
