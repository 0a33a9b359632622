tr_unit_test(redact text LIBS tr_redact CASES
    redact_cards_need_a_valid_luhn_digit
    redact_iban_needs_valid_check_digits
    redact_email_addresses
    redact_phone_numbers_but_not_dates_or_orders
    redact_ssn_outside_invalid_ranges
    redact_ip_addresses
    redact_repeated_values_share_a_placeholder
    redact_restore_round_trips
    redact_tenant_patterns_get_their_own_placeholders
    redact_bad_tenant_patterns_are_refused_clearly
    redact_overlaps_keep_the_longest
    redact_text_without_personal_data_is_unchanged
    redact_invalid_utf8_around_values_is_safe
    redact_fields_share_one_map)
