"""Impact: conversions, conversion lift and profit of contacting the best-scored customers."""

import streamlit as st

from core.impact import simulate_targeting
from core.plots import gains_figure, lift_figure, profit_figure
from core.specs import ImpactInputs
from ui import resources, state
from ui.widgets import errors_shown, page_setup, require_run

data_dir = page_setup()
st.title("Impact")
run = require_run(data_dir, "impact__run")
c = resources.curves(data_dir, run.run_id)
saved = state.impact_inputs() or {"contact_cost": 5.0, "conversion_value": 100.0, "fraction": 0.2}
st.caption(f"Population: the run's test split, **{len(c['y']):,} customers** with known outcomes "
           f"(base rate {c['base_rate']:.1%}).")
c1, c2, c3 = st.columns(3)
cost = c1.number_input("Contact cost per customer", 0.0, 1e6, saved["contact_cost"], 1.0,
                       key="impact__cost")
value = c2.number_input("Value of one conversion", 0.01, 1e9, saved["conversion_value"], 10.0,
                        key="impact__value")
fraction = c3.slider("Share of customers to contact", 0.01, 1.0, saved["fraction"], 0.01,
                     key="impact__fraction", format="%.2f")
state.set_impact_inputs({"contact_cost": cost, "conversion_value": value, "fraction": fraction})
with errors_shown():
    r = simulate_targeting(c["y"], c["s"], ImpactInputs(cost, value, fraction, n_bootstrap=300))

ci = r.ci95
cols = st.columns(4)
cols[0].metric("Conversion lift", f"{r.conversion_lift:.2f}×",
               help=f"95% CI {ci['conversion_lift'][0]:.2f}–{ci['conversion_lift'][1]:.2f}")
cols[1].metric("Conversions (model)", f"{r.conversions_model:,}",
               delta=f"{r.conversions_model - r.conversions_random:+,.0f} vs random")
cols[2].metric("Profit (model)", f"{r.profit_model:,.0f}",
               delta=f"{r.profit_model - r.profit_random:+,.0f} vs random")
cols[3].metric("Best share to contact", f"{r.best_fraction:.0%}",
               help=f"Profit there: {r.best_profit:,.0f}")
st.caption(
    f"Contacting the top {r.fraction:.0%} ({r.targeted:,} customers) reaches "
    f"{r.conversions_model:,} converters (95% CI {ci['conversions_model'][0]:,.0f}–"
    f"{ci['conversions_model'][1]:,.0f}) against {r.conversions_random:,.0f} at random: a "
    f"conversion rate of {r.conversion_rate_model:.1%} vs {r.base_rate:.1%}. Profit "
    f"{r.profit_model:,.0f} (95% CI {ci['profit_model'][0]:,.0f}–{ci['profit_model'][1]:,.0f}) "
    f"vs {r.profit_random:,.0f} at random."
)
left, mid, right = st.columns(3)
left.plotly_chart(profit_figure(r.curve, r.best_fraction, r.best_profit, r.fraction,
                                r.break_even_fraction), key="impact__profit")
mid.plotly_chart(gains_figure(r.curve, r.base_rate, r.fraction), key="impact__gains")
right.plotly_chart(lift_figure(r.curve, r.fraction), key="impact__lift")
