"""The world: population, geography, catalog, behaviour, calendar, RFM and scenarios."""
