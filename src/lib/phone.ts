/** A phone number in E.164 form (`+` and 7 to 15 digits, no leading zero): what every provider we send through accepts. */
export const E164 = /^\+[1-9]\d{6,14}$/;
