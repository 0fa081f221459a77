/*
 * Named units shared across modules, so sizes and durations read as what
 * they are ("5 * CF_MIB", "7 * CF_SECONDS_PER_DAY") rather than as bare
 * numbers.  UUID text length: CF_UUID_LEN in ids.h.
 */
#ifndef CF_UNITS_H
#define CF_UNITS_H

#define CF_KIB 1024u
#define CF_MIB (1024u * CF_KIB)

#define CF_SECONDS_PER_MINUTE 60
#define CF_SECONDS_PER_HOUR (60 * CF_SECONDS_PER_MINUTE)
#define CF_SECONDS_PER_DAY (24 * CF_SECONDS_PER_HOUR)
#define CF_MS_PER_SECOND 1000
#define CF_NS_PER_MS 1000000

#endif
