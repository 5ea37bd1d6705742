-- Microsoft Graph reads at most 1825 days of a calendar view at once (days back + today + days
-- ahead); earlier versions allowed 3650 + 3650. Stored windows are shortened at their far end,
-- so that the subscription page shows the window that is imported.
UPDATE subscriptions SET days_back = 1823 WHERE days_back > 1823;
UPDATE subscriptions SET days_ahead = 1824 - days_back WHERE days_back + days_ahead > 1824;
