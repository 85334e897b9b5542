"""The IIZ-Ausschuss's yearly report (IIZ-Tätigkeitsbericht) as a German PDF, built only from the
published (disclosure-controlled) figures: ``annual.py`` reads them, ``content.py`` lays them
out, ``render.py`` prints them."""
