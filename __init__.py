"""nbasim: a simulator for Next Best Action marketing.

Importing `nbasim` registers the gymnasium environments `nbasim/NextBestAction-v0` and
`nbasim/CampaignDay-v0`. The parts:

- `nbasim.sim`: the world (population, geography, catalog, behaviour, response, calendar);
- `nbasim.envs`: the gymnasium environments over it;
- `nbasim.policies`: one batched policy interface, baselines, bandits and the oracle;
- `nbasim.experiments`: configs, the runner, metrics, reports and the `nbasim` command line.
"""

from nbasim import envs  # noqa: F401  (registers the environments)
from nbasim.errors import NbasimError

__all__ = ["NbasimError"]
