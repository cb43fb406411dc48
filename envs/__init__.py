"""Gymnasium environments over the world, registered on import.

- `nbasim/NextBestAction-v0`: one step is one decision for one customer, in event order.
- `nbasim/CampaignDay-v0`: one step is one day, an action for every customer at once.
"""

from gymnasium.envs.registration import register, registry

for _id, _entry in (("nbasim/CampaignDay-v0", "nbasim.envs.campaign_day:CampaignDayEnv"),
                    ("nbasim/NextBestAction-v0", "nbasim.envs.next_best_action:NextBestActionEnv")):
    if _id not in registry:
        register(id=_id, entry_point=_entry)
