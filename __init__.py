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
from nbasim.envs.episode import Episode, Step, run_episode, steps
from nbasim.errors import NbasimError

__all__ = ["Episode", "NbasimError", "Step", "run_episode", "steps"]
