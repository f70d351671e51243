/* Proleptic Gregorian day numbers: days since 1970-01-01 <-> civil dates, no time zone. */
#ifndef TP_CIVIL_H
#define TP_CIVIL_H

/* Days from 1970-01-01 to y-m-d (Howard Hinnant's algorithm, exact for all dates). */
long tp_days_from_civil(long y, int m, int d);
/* The civil date of day z (days since 1970-01-01). */
void tp_civil_from_days(long z, int *y, int *m, int *d);

#endif
