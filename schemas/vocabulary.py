"""Enumerations of the v1 contract. Values are stable wire strings; the docstrings give the
German terms partner staff use."""

from __future__ import annotations

from enum import StrEnum


class DataCategory(StrEnum):
    """Data category of an event or field; consents and legal bases are granted per category."""

    CASE_ADMIN = "case-admin"  # Fallführung: participation, referrals, appointments
    EMPLOYMENT = "employment"  # Arbeitsmarkt, Stellensuche, Massnahmen
    BENEFITS = "benefits"  # Leistungen: Taggelder, Renten, Sozialhilfe
    EDUCATION = "education"  # Berufsbildung
    INTEGRATION = "integration"  # Integrationsförderung (ZIF)
    HEALTH = "health"  # IV-Zusammenfassungen: besonders schützenswert, nie implizit
    DOCUMENTS = "documents"  # Dokument-Metadaten
    IDENTITY = "identity"  # AHV-Nummer


class InstitutionKind(StrEnum):
    """Kind of partner institution (Institution)."""

    ALV_RAV = "alv-rav"  # Arbeitslosenversicherung / RAV (KIGA)
    IV = "iv"  # IV-Stelle (SVA BL)
    SOCIAL_SERVICES = "social-services"  # Sozialdienst einer Gemeinde
    KSA = "ksa"  # Kantonales Sozialamt
    ASSESSMENTCENTER = "assessmentcenter"  # Kantonales Assessmentcenter
    INTEGRATION = "integration"  # Fachbereich Integration / ZIF
    BERUFSBILDUNG = "berufsbildung"  # Hauptabteilung Berufsbildung


class MeasureKind(StrEnum):
    """Kind of measure (Massnahme)."""

    COACHING = "coaching"
    LABOUR_MARKET_MEASURE = "labour-market-measure"  # arbeitsmarktliche Massnahme (AMM)
    JOB_SEARCH_SUPPORT = "job-search-support"  # Stellensuche / Vermittlung
    IV_EARLY_INTERVENTION = "iv-early-intervention"  # Frühintervention
    IV_INTEGRATION_MEASURE = "iv-integration-measure"  # Integrationsmassnahme IV
    IV_VOCATIONAL_MEASURE = "iv-vocational-measure"  # berufliche Massnahme IV
    LANGUAGE_COURSE = "language-course"  # Sprachkurs
    BUDGET_DEBT_COUNSELLING = "budget-debt-counselling"  # Budget- und Schuldenberatung
    WORK_INTEGRATION = "work-integration"  # Arbeitsintegration
    BRIDGE_OFFER = "bridge-offer"  # Brückenangebot
    APPRENTICESHIP = "apprenticeship"  # Lehre / berufliche Grundbildung
    VOCATIONAL_CASE_MANAGEMENT = "vocational-case-management"  # Case Management Berufsbildung
    OTHER = "other"


class MeasureResult(StrEnum):
    """How a measure ended."""

    COMPLETED = "completed"
    ABORTED = "aborted"
    TRANSFERRED = "transferred"


class ReferralPurpose(StrEnum):
    """Purpose of a referral (Anmeldung / Zuweisung)."""

    IV_EARLY_DETECTION = "iv-early-detection"  # Früherfassung IV
    ZIF_FIRST_INTERVIEW = "zif-first-interview"  # Erstgespräch ZIF
    POTENTIAL_ASSESSMENT = "potential-assessment"  # Potenzialabklärung
    RE_ASSESSMENT = "re-assessment"  # Re-Assessment
    ASSESSMENTCENTER_INTAKE = "assessmentcenter-intake"  # Aufnahme Assessmentcenter
    VOCATIONAL_CASE_MANAGEMENT = "vocational-case-management"  # Case Management Berufsbildung
    JOB_PLACEMENT = "job-placement"  # Vermittlung durch das RAV
    SOCIAL_ASSISTANCE_CLARIFICATION = "social-assistance-clarification"  # Abklärung Sozialhilfe
    OTHER = "other"


class DeclineReason(StrEnum):
    """Why a referral was declined."""

    NOT_ELIGIBLE = "not-eligible"
    NO_CAPACITY = "no-capacity"
    PERSON_DECLINED = "person-declined"
    OTHER = "other"


class CaseOutcome(StrEnum):
    """How an IIZ case closed (Fallabschluss)."""

    EMPLOYMENT = "employment"
    EDUCATION = "education"
    IV_MEASURE = "iv-measure"
    IV_PENSION = "iv-pension"
    SOCIAL_ASSISTANCE_EXIT = "social-assistance-exit"
    MOVED_AWAY = "moved-away"
    OTHER = "other"


class Barrier(StrEnum):
    """Barrier to (re)entering work found in an assessment. Never a diagnosis."""

    HEALTH = "health"
    LANGUAGE = "language"
    CHILDCARE = "childcare"
    DEBTS = "debts"
    QUALIFICATION = "qualification"
    HOUSING = "housing"
    RESIDENCE_STATUS = "residence-status"
    OTHER = "other"


class Potential(StrEnum):
    """Assessed labour-market potential (Potenzial)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    UNCLEAR = "unclear"


class BenefitKind(StrEnum):
    """Kind of benefit (Leistung)."""

    ALV_DAILY_ALLOWANCE = "alv-daily-allowance"  # ALV-Taggeld
    IV_DAILY_ALLOWANCE = "iv-daily-allowance"  # IV-Taggeld
    IV_PENSION = "iv-pension"  # IV-Rente
    SOCIAL_ASSISTANCE = "social-assistance"  # wirtschaftliche Sozialhilfe
    SCHOLARSHIP = "scholarship"  # Stipendium
    OTHER = "other"


class BenefitEndReason(StrEnum):
    """Why a benefit ended."""

    EXHAUSTED = "exhausted"  # Aussteuerung
    EMPLOYMENT = "employment"
    REPLACED = "replaced"
    OTHER = "other"


class ParticipantRole(StrEnum):
    """Role of an institution in a case."""

    LEAD = "lead"  # fallführend
    PARTICIPANT = "participant"


class AppointmentKind(StrEnum):
    """Kind of appointment."""

    CASE_CONFERENCE = "case-conference"  # Fallkonferenz
    ROUND_TABLE = "round-table"  # Runder Tisch
    INTERVIEW = "interview"  # Gespräch
