"""Customer data: transaction logs, calibration to them, campaign-test lifts, RFM reports."""
