"""Aggregated figures for the IIZ steering committee (IIZ-Ausschuss), with disclosure control."""
