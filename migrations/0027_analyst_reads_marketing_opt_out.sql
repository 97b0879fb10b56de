-- Ask-your-data may count who opted out of marketing: the column joins the analyst role's curated grant.
GRANT SELECT (marketing_opt_out) ON customers TO billx_analyst;
