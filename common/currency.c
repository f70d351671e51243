/* ISO 4217 active currency codes, for tp_valid_currency: real money only, sorted for bsearch. */
#include <stdlib.h>
#include <string.h>

#include "tp_validate.h"

/* ISO 4217 List One (Debian iso-codes 4.15) as in force in 2026, real currencies only.
 * Left out on purpose:
 * - funds and index units: BOV CHE CHW CLF COU MXV USN UYI UYW;
 * - precious metals, bond-market and accounting units: XAG XAU XPD XPT XBA XBB XBC XBD XDR
 *   XSU XUA;
 * - testing and "no currency": XTS XXX;
 * - withdrawn: HRK (euro 2023), SLL (SLE 2022-2023), ZWL (ZWG 2024), ANG (XCG 2025),
 *   BGN (euro 2026).
 * Added after iso-codes 4.15: ZWG (Zimbabwe Gold, 2024), XCG (Caribbean guilder, 2025).
 * Keep the array sorted: tp_valid_currency bisects it (a unit test checks the order). */
static const char currency_codes[][4] = {
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD",
    "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CLP", "CNY", "COP", "CRC", "CUC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP",
    "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD",
    "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY",
    "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD",
    "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK",
    "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK",
    "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG",
    "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS",
    "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VED",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
};

static int cmp_code(const void *key, const void *elem)
{
    return strcmp((const char *)key, (const char *)elem);
}

bool tp_valid_currency(const char *s)
{
    if (s == NULL || strlen(s) != 3)
        return false;
    return bsearch(s, currency_codes, sizeof(currency_codes) / sizeof(currency_codes[0]),
                   sizeof(currency_codes[0]), cmp_code) != NULL;
}

const char *tp_currency_at(size_t i)
{
    return i < sizeof(currency_codes) / sizeof(currency_codes[0]) ? currency_codes[i] : NULL;
}
