//! Time-zone names as the JDK (17, CLDR data, English) prints and parses them: for
//! `z` / `zzzz` in Java date patterns. Generated from `TimeZone.getDisplayName` and
//! `DateTimeFormatter` parsing on a JVM; zone ids are tzdb ids.

/// Per zone id: standard short name, standard long name, daylight short name, daylight long
/// name.
pub(super) const DISPLAY_NAMES: &str = "\
Africa/Abidjan|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Africa/Accra|GMT|Greenwich Mean Time|GHST|Ghana Summer Time\n\
Africa/Addis_Ababa|EAT|East Africa Time|EAST|Eastern African Summer Time\n\
Africa/Algiers|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Africa/Asmara|EAT|East Africa Time|EAST|Eastern African Summer Time\n\
Africa/Asmera|EAT|East Africa Time|EAST|Eastern African Summer Time\n\
Africa/Bamako|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Africa/Bangui|WAT|West Africa Standard Time|WAST|West Africa Summer Time\n\
Africa/Banjul|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Africa/Bissau|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Africa/Blantyre|CAT|Central Africa Time|CAST|Central African Summer Time\n\
Africa/Brazzaville|WAT|West Africa Standard Time|WAST|West Africa Summer Time\n\
Africa/Bujumbura|CAT|Central Africa Time|CAST|Central African Summer Time\n\
Africa/Cairo|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Africa/Casablanca|WET|Western European Time|WEST|Western European Summer Time\n\
Africa/Ceuta|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Africa/Conakry|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Africa/Dakar|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Africa/Dar_es_Salaam|EAT|East Africa Time|EAST|Eastern African Summer Time\n\
Africa/Djibouti|EAT|East Africa Time|EAST|Eastern African Summer Time\n\
Africa/Douala|WAT|West Africa Standard Time|WAST|West Africa Summer Time\n\
Africa/El_Aaiun|WET|Western European Time|WEST|Western European Summer Time\n\
Africa/Freetown|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Africa/Gaborone|CAT|Central Africa Time|CAST|Central African Summer Time\n\
Africa/Harare|CAT|Central Africa Time|CAST|Central African Summer Time\n\
Africa/Johannesburg|SAST|South Africa Standard Time|SAST|South Africa Summer Time\n\
Africa/Juba|CAT|Central Africa Time|CAST|Central African Summer Time\n\
Africa/Kampala|EAT|East Africa Time|EAST|Eastern African Summer Time\n\
Africa/Khartoum|CAT|Central Africa Time|CAST|Central African Summer Time\n\
Africa/Kigali|CAT|Central Africa Time|CAST|Central African Summer Time\n\
Africa/Kinshasa|WAT|West Africa Standard Time|WAST|West Africa Summer Time\n\
Africa/Lagos|WAT|West Africa Standard Time|WAST|West Africa Summer Time\n\
Africa/Libreville|WAT|West Africa Standard Time|WAST|West Africa Summer Time\n\
Africa/Lome|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Africa/Luanda|WAT|West Africa Standard Time|WAST|West Africa Summer Time\n\
Africa/Lubumbashi|CAT|Central Africa Time|CAST|Central African Summer Time\n\
Africa/Lusaka|CAT|Central Africa Time|CAST|Central African Summer Time\n\
Africa/Malabo|WAT|West Africa Standard Time|WAST|West Africa Summer Time\n\
Africa/Maputo|CAT|Central Africa Time|CAST|Central African Summer Time\n\
Africa/Maseru|SAST|South Africa Standard Time|SAST|South Africa Summer Time\n\
Africa/Mbabane|SAST|South Africa Standard Time|SAST|South Africa Summer Time\n\
Africa/Mogadishu|EAT|East Africa Time|EAST|Eastern African Summer Time\n\
Africa/Monrovia|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Africa/Nairobi|EAT|East Africa Time|EAST|Eastern African Summer Time\n\
Africa/Ndjamena|WAT|West Africa Standard Time|WAST|West Africa Summer Time\n\
Africa/Niamey|WAT|West Africa Standard Time|WAST|West Africa Summer Time\n\
Africa/Nouakchott|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Africa/Ouagadougou|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Africa/Porto-Novo|WAT|West Africa Standard Time|WAST|West Africa Summer Time\n\
Africa/Sao_Tome|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Africa/Timbuktu|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Africa/Tripoli|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Africa/Tunis|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Africa/Windhoek|CAT|Central Africa Time|WAT|Western African Time\n\
America/Adak|HAST|Hawaii-Aleutian Standard Time|HADT|Hawaii-Aleutian Daylight Time\n\
America/Anchorage|AKST|Alaska Standard Time|AKDT|Alaska Daylight Time\n\
America/Anguilla|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Antigua|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Araguaina|BRT|Brasilia Standard Time|BRST|Brasilia Summer Time\n\
America/Argentina/Buenos_Aires|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Argentina/Catamarca|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Argentina/ComodRivadavia|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Argentina/Cordoba|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Argentina/Jujuy|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Argentina/La_Rioja|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Argentina/Mendoza|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Argentina/Rio_Gallegos|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Argentina/Salta|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Argentina/San_Juan|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Argentina/San_Luis|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Argentina/Tucuman|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Argentina/Ushuaia|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Aruba|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Asuncion|PYT|Paraguay Standard Time|PYST|Paraguay Summer Time\n\
America/Atikokan|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Atka|HAST|Hawaii-Aleutian Standard Time|HADT|Hawaii-Aleutian Daylight Time\n\
America/Bahia|BRT|Brasilia Standard Time|BRST|Brasilia Summer Time\n\
America/Bahia_Banderas|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Barbados|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Belem|BRT|Brasilia Standard Time|BRST|Brasilia Summer Time\n\
America/Belize|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Blanc-Sablon|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Boa_Vista|AMT|Amazon Standard Time|AMST|Amazon Summer Time\n\
America/Bogota|COT|Colombia Standard Time|COST|Colombia Summer Time\n\
America/Boise|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
America/Buenos_Aires|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Cambridge_Bay|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
America/Campo_Grande|AMT|Amazon Standard Time|AMST|Amazon Summer Time\n\
America/Cancun|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Caracas|VET|Venezuela Time|VEST|Venezuela Summer Time\n\
America/Catamarca|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Cayenne|GFT|French Guiana Time|GFST|French Guiana Summer Time\n\
America/Cayman|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Chicago|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Chihuahua|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Ciudad_Juarez|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
America/Coral_Harbour|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Cordoba|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Costa_Rica|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Creston|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
America/Cuiaba|AMT|Amazon Standard Time|AMST|Amazon Summer Time\n\
America/Curacao|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Danmarkshavn|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
America/Dawson|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
America/Dawson_Creek|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
America/Denver|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
America/Detroit|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Dominica|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Edmonton|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
America/Eirunepe|ACT|Acre Standard Time|ACST|Acre Summer Time\n\
America/El_Salvador|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Ensenada|PST|Pacific Standard Time|PDT|Pacific Daylight Time\n\
America/Fort_Nelson|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
America/Fort_Wayne|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Fortaleza|BRT|Brasilia Standard Time|BRST|Brasilia Summer Time\n\
America/Glace_Bay|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Godthab|WGT|West Greenland Standard Time|WGST|West Greenland Summer Time\n\
America/Goose_Bay|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Grand_Turk|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Grenada|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Guadeloupe|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Guatemala|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Guayaquil|ECT|Ecuador Time|ECST|Ecuador Summer Time\n\
America/Guyana|GYT|Guyana Time|GYST|Guyana Summer Time\n\
America/Halifax|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Havana|CST|Cuba Standard Time|CDT|Cuba Daylight Time\n\
America/Hermosillo|MST|Mexican Pacific Standard Time|MDT|Mexican Pacific Daylight Time\n\
America/Indiana/Indianapolis|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Indiana/Knox|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Indiana/Marengo|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Indiana/Petersburg|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Indiana/Tell_City|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Indiana/Vevay|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Indiana/Vincennes|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Indiana/Winamac|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Indianapolis|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Inuvik|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
America/Iqaluit|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Jamaica|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Jujuy|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Juneau|AKST|Alaska Standard Time|AKDT|Alaska Daylight Time\n\
America/Kentucky/Louisville|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Kentucky/Monticello|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Knox_IN|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Kralendijk|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/La_Paz|BOT|Bolivia Time|BOST|Bolivia Summer Time\n\
America/Lima|PET|Peru Standard Time|PEST|Peru Summer Time\n\
America/Los_Angeles|PST|Pacific Standard Time|PDT|Pacific Daylight Time\n\
America/Louisville|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Lower_Princes|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Maceio|BRT|Brasilia Standard Time|BRST|Brasilia Summer Time\n\
America/Managua|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Manaus|AMT|Amazon Standard Time|AMST|Amazon Summer Time\n\
America/Marigot|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Martinique|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Matamoros|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Mazatlan|MST|Mexican Pacific Standard Time|MDT|Mexican Pacific Daylight Time\n\
America/Mendoza|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Menominee|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Merida|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Metlakatla|AKST|Alaska Standard Time|AKDT|Alaska Daylight Time\n\
America/Mexico_City|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Miquelon|PMST|St. Pierre & Miquelon Standard Time|PMDT|St. Pierre & Miquelon Daylight Time\n\
America/Moncton|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Monterrey|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Montevideo|UYT|Uruguay Standard Time|UYST|Uruguay Summer Time\n\
America/Montreal|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Montserrat|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Nassau|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/New_York|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Nipigon|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Nome|AKST|Alaska Standard Time|AKDT|Alaska Daylight Time\n\
America/Noronha|FNT|Fernando de Noronha Standard Time|FNST|Fernando de Noronha Summer Time\n\
America/North_Dakota/Beulah|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/North_Dakota/Center|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/North_Dakota/New_Salem|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Nuuk|WGT|West Greenland Standard Time|WGST|West Greenland Summer Time\n\
America/Ojinaga|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Panama|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Pangnirtung|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Paramaribo|SRT|Suriname Time|SRST|Suriname Summer Time\n\
America/Phoenix|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
America/Port-au-Prince|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Port_of_Spain|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Porto_Acre|ACT|Acre Standard Time|ACST|Acre Summer Time\n\
America/Porto_Velho|AMT|Amazon Standard Time|AMST|Amazon Summer Time\n\
America/Puerto_Rico|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Punta_Arenas|GMT-03:00|Punta Arenas Standard Time|GMT-03:00|Punta Arenas Standard Time\n\
America/Rainy_River|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Rankin_Inlet|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Recife|BRT|Brasilia Standard Time|BRST|Brasilia Summer Time\n\
America/Regina|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Resolute|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Rio_Branco|ACT|Acre Standard Time|ACST|Acre Summer Time\n\
America/Rosario|ART|Argentina Standard Time|ARST|Argentina Summer Time\n\
America/Santa_Isabel|PST|Northwest Mexico Standard Time|PDT|Northwest Mexico Daylight Time\n\
America/Santarem|BRT|Brasilia Standard Time|BRST|Brasilia Summer Time\n\
America/Santiago|CLT|Chile Standard Time|CLST|Chile Summer Time\n\
America/Santo_Domingo|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Sao_Paulo|BRT|Brasilia Standard Time|BRST|Brasilia Summer Time\n\
America/Scoresbysund|EGT|East Greenland Standard Time|EGST|East Greenland Summer Time\n\
America/Shiprock|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
America/Sitka|AKST|Alaska Standard Time|AKDT|Alaska Daylight Time\n\
America/St_Barthelemy|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/St_Johns|NST|Newfoundland Standard Time|NDT|Newfoundland Daylight Time\n\
America/St_Kitts|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/St_Lucia|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/St_Thomas|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/St_Vincent|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Swift_Current|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Tegucigalpa|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Thule|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Thunder_Bay|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Tijuana|PST|Pacific Standard Time|PDT|Pacific Daylight Time\n\
America/Toronto|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
America/Tortola|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Vancouver|PST|Pacific Standard Time|PDT|Pacific Daylight Time\n\
America/Virgin|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
America/Whitehorse|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
America/Winnipeg|CST|Central Standard Time|CDT|Central Daylight Time\n\
America/Yakutat|AKST|Alaska Standard Time|AKDT|Alaska Daylight Time\n\
America/Yellowknife|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
Antarctica/Casey|AWST|Casey Time|AWDT|Australian Western Daylight Time\n\
Antarctica/Davis|DAVT|Davis Time|DAVST|Davis Summer Time\n\
Antarctica/DumontDUrville|DDUT|Dumont-d’Urville Time|DDUST|Dumont-d'Urville Summer Time\n\
Antarctica/Macquarie|AEST|Australian Eastern Standard Time|AEDT|Australian Eastern Daylight Time\n\
Antarctica/Mawson|MAWT|Mawson Time|MAWST|Mawson Summer Time\n\
Antarctica/McMurdo|NZST|New Zealand Standard Time|NZDT|New Zealand Daylight Time\n\
Antarctica/Palmer|CLT|Chile Time|CLST|Chile Summer Time\n\
Antarctica/Rothera|ROTT|Rothera Time|ROTST|Rothera Summer Time\n\
Antarctica/South_Pole|NZST|New Zealand Standard Time|NZDT|New Zealand Daylight Time\n\
Antarctica/Syowa|SYOT|Syowa Time|SYOST|Syowa Summer Time\n\
Antarctica/Troll|GMT|Greenwich Mean Time|CEST|Central European Summer Time\n\
Antarctica/Vostok|VOST|Vostok Time|VOSST|Vostok Summer Time\n\
Arctic/Longyearbyen|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Asia/Aden|AST|Arabian Standard Time|ADT|Arabian Daylight Time\n\
Asia/Almaty|ALMT|East Kazakhstan Time|ALMST|Alma-Ata Summer Time\n\
Asia/Amman|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Asia/Anadyr|ANAT|Anadyr Standard Time|ANAST|Anadyr Summer Time\n\
Asia/Aqtau|AQTT|West Kazakhstan Time|AQTST|Aqtau Summer Time\n\
Asia/Aqtobe|AQTT|West Kazakhstan Time|AQTST|Aqtobe Summer Time\n\
Asia/Ashgabat|TMT|Turkmenistan Standard Time|TMST|Turkmenistan Summer Time\n\
Asia/Ashkhabad|TMT|Turkmenistan Standard Time|TMST|Turkmenistan Summer Time\n\
Asia/Atyrau|GMT+05:00|West Kazakhstan Time|GMT+05:00|Atyrau Daylight Time\n\
Asia/Baghdad|AST|Arabian Standard Time|ADT|Arabian Daylight Time\n\
Asia/Bahrain|AST|Arabian Standard Time|ADT|Arabian Daylight Time\n\
Asia/Baku|AZT|Azerbaijan Standard Time|AZST|Azerbaijan Summer Time\n\
Asia/Bangkok|ICT|Indochina Time|ICST|Indochina Summer Time\n\
Asia/Barnaul|GMT+07:00|Barnaul Standard Time|GMT+07:00|Barnaul Daylight Time\n\
Asia/Beirut|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Asia/Bishkek|KGT|Kyrgyzstan Time|KGST|Kirgizstan Summer Time\n\
Asia/Brunei|BNT|Brunei Darussalam Time|BNST|Brunei Summer Time\n\
Asia/Calcutta|IST|India Standard Time|IDT|India Daylight Time\n\
Asia/Chita|YAKT|Yakutsk Standard Time|YAKST|Yakutsk Summer Time\n\
Asia/Choibalsan|CHOT|Ulaanbaatar Standard Time|CHOST|Ulaanbaatar Summer Time\n\
Asia/Chongqing|CST|China Standard Time|CDT|China Daylight Time\n\
Asia/Chungking|CST|China Standard Time|CDT|China Daylight Time\n\
Asia/Colombo|IST|India Standard Time|IDT|India Daylight Time\n\
Asia/Dacca|BDT|Bangladesh Standard Time|BDST|Bangladesh Summer Time\n\
Asia/Damascus|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Asia/Dhaka|BDT|Bangladesh Standard Time|BDST|Bangladesh Summer Time\n\
Asia/Dili|TLT|East Timor Time|TLST|Timor-Leste Summer Time\n\
Asia/Dubai|GST|Gulf Standard Time|GDT|Gulf Daylight Time\n\
Asia/Dushanbe|TJT|Tajikistan Time|TJST|Tajikistan Summer Time\n\
Asia/Famagusta|EET|Eastern European Time|EEST|Eastern European Summer Time\n\
Asia/Gaza|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Asia/Harbin|CST|China Standard Time|CDT|China Daylight Time\n\
Asia/Hebron|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Asia/Ho_Chi_Minh|ICT|Indochina Time|ICST|Indochina Summer Time\n\
Asia/Hong_Kong|HKT|Hong Kong Standard Time|HKST|Hong Kong Summer Time\n\
Asia/Hovd|HOVT|Hovd Standard Time|HOVST|Hovd Summer Time\n\
Asia/Irkutsk|IRKT|Irkutsk Standard Time|IRKST|Irkutsk Summer Time\n\
Asia/Istanbul|TRT|Turkey Time|TRST|Turkey Summer Time\n\
Asia/Jakarta|WIB|Western Indonesia Time|WIST|West Indonesia Summer Time\n\
Asia/Jayapura|WIT|Eastern Indonesia Time|EIST|East Indonesia Summer Time\n\
Asia/Jerusalem|IST|Israel Standard Time|IDT|Israel Daylight Time\n\
Asia/Kabul|AFT|Afghanistan Time|AFST|Afghanistan Summer Time\n\
Asia/Kamchatka|PETT|Petropavlovsk-Kamchatski Standard Time|PETST|Petropavlovsk-Kamchatski Summer Time\n\
Asia/Karachi|PKT|Pakistan Standard Time|PKST|Pakistan Summer Time\n\
Asia/Kashgar|XJT|Xinjiang Standard Time|XJDT|Xinjiang Daylight Time\n\
Asia/Kathmandu|NPT|Nepal Time|NPST|Nepal Summer Time\n\
Asia/Katmandu|NPT|Nepal Time|NPST|Nepal Summer Time\n\
Asia/Khandyga|YAKT|Yakutsk Standard Time|YAKST|Yakutsk Summer Time\n\
Asia/Kolkata|IST|India Standard Time|IDT|India Daylight Time\n\
Asia/Krasnoyarsk|KRAT|Krasnoyarsk Standard Time|KRAST|Krasnoyarsk Summer Time\n\
Asia/Kuala_Lumpur|MYT|Malaysia Time|MYST|Malaysia Summer Time\n\
Asia/Kuching|MYT|Malaysia Time|MYST|Malaysia Summer Time\n\
Asia/Kuwait|AST|Arabian Standard Time|ADT|Arabian Daylight Time\n\
Asia/Macao|CST|China Standard Time|CDT|China Daylight Time\n\
Asia/Macau|CST|China Standard Time|CDT|China Daylight Time\n\
Asia/Magadan|MAGT|Magadan Standard Time|MAGST|Magadan Summer Time\n\
Asia/Makassar|WITA|Central Indonesia Time|CIST|Central Indonesia Summer Time\n\
Asia/Manila|PST|Philippine Standard Time|PDT|Philippine Summer Time\n\
Asia/Muscat|GST|Gulf Standard Time|GDT|Gulf Daylight Time\n\
Asia/Nicosia|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Asia/Novokuznetsk|KRAT|Krasnoyarsk Standard Time|KRAST|Krasnoyarsk Summer Time\n\
Asia/Novosibirsk|NOVT|Novosibirsk Standard Time|NOVST|Novosibirsk Summer Time\n\
Asia/Omsk|OMST|Omsk Standard Time|OMSST|Omsk Summer Time\n\
Asia/Oral|ORAT|West Kazakhstan Time|ORAST|Oral Summer Time\n\
Asia/Phnom_Penh|ICT|Indochina Time|ICST|Indochina Summer Time\n\
Asia/Pontianak|WIB|Western Indonesia Time|WIST|West Indonesia Summer Time\n\
Asia/Pyongyang|KST|Korean Standard Time|KDT|Korean Daylight Time\n\
Asia/Qatar|AST|Arabian Standard Time|ADT|Arabian Daylight Time\n\
Asia/Qostanay|QOST|East Kazakhstan Time|QOSST|Kostanay Summer Time\n\
Asia/Qyzylorda|QYZT|West Kazakhstan Time|QYZST|Qyzylorda Summer Time\n\
Asia/Rangoon|MMT|Myanmar Time|MMST|Myanmar Summer Time\n\
Asia/Riyadh|AST|Arabian Standard Time|ADT|Arabian Daylight Time\n\
Asia/Saigon|ICT|Indochina Time|ICST|Indochina Summer Time\n\
Asia/Sakhalin|SAKT|Sakhalin Standard Time|SAKST|Sakhalin Summer Time\n\
Asia/Samarkand|UZT|Uzbekistan Standard Time|UZST|Uzbekistan Summer Time\n\
Asia/Seoul|KST|Korean Standard Time|KDT|Korean Daylight Time\n\
Asia/Shanghai|CST|China Standard Time|CDT|China Daylight Time\n\
Asia/Singapore|SGT|Singapore Standard Time|SGST|Singapore Summer Time\n\
Asia/Srednekolymsk|SRET|Srednekolymsk Time|SREDT|Srednekolymsk Daylight Time\n\
Asia/Taipei|CST|Taipei Standard Time|CDT|Taipei Daylight Time\n\
Asia/Tashkent|UZT|Uzbekistan Standard Time|UZST|Uzbekistan Summer Time\n\
Asia/Tbilisi|GET|Georgia Standard Time|GEST|Georgia Summer Time\n\
Asia/Tehran|IRST|Iran Standard Time|IRDT|Iran Daylight Time\n\
Asia/Tel_Aviv|IST|Israel Standard Time|IDT|Israel Daylight Time\n\
Asia/Thimbu|BTT|Bhutan Time|BTST|Bhutan Summer Time\n\
Asia/Thimphu|BTT|Bhutan Time|BTST|Bhutan Summer Time\n\
Asia/Tokyo|JST|Japan Standard Time|JDT|Japan Daylight Time\n\
Asia/Tomsk|GMT+07:00|Tomsk Standard Time|GMT+07:00|Tomsk Daylight Time\n\
Asia/Ujung_Pandang|WITA|Central Indonesia Time|CIST|Central Indonesia Summer Time\n\
Asia/Ulaanbaatar|ULAT|Ulaanbaatar Standard Time|ULAST|Ulaanbaatar Summer Time\n\
Asia/Ulan_Bator|ULAT|Ulaanbaatar Standard Time|ULAST|Ulaanbaatar Summer Time\n\
Asia/Urumqi|XJT|Xinjiang Standard Time|XJDT|Xinjiang Daylight Time\n\
Asia/Ust-Nera|VLAT|Vladivostok Standard Time|VLAST|Vladivostok Summer Time\n\
Asia/Vientiane|ICT|Indochina Time|ICST|Indochina Summer Time\n\
Asia/Vladivostok|VLAT|Vladivostok Standard Time|VLAST|Vladivostok Summer Time\n\
Asia/Yakutsk|YAKT|Yakutsk Standard Time|YAKST|Yakutsk Summer Time\n\
Asia/Yangon|MMT|Myanmar Time|MMST|Myanmar Summer Time\n\
Asia/Yekaterinburg|YEKT|Yekaterinburg Standard Time|YEKST|Yekaterinburg Summer Time\n\
Asia/Yerevan|AMT|Armenia Standard Time|AMST|Armenia Summer Time\n\
Atlantic/Azores|AZOT|Azores Standard Time|AZOST|Azores Summer Time\n\
Atlantic/Bermuda|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
Atlantic/Canary|WET|Western European Standard Time|WEST|Western European Summer Time\n\
Atlantic/Cape_Verde|CVT|Cape Verde Standard Time|CVST|Cape Verde Summer Time\n\
Atlantic/Faeroe|WET|Western European Standard Time|WEST|Western European Summer Time\n\
Atlantic/Faroe|WET|Western European Standard Time|WEST|Western European Summer Time\n\
Atlantic/Jan_Mayen|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Atlantic/Madeira|WET|Western European Standard Time|WEST|Western European Summer Time\n\
Atlantic/Reykjavik|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Atlantic/South_Georgia|GST|South Georgia Time|GDT|South Georgia Daylight Time\n\
Atlantic/St_Helena|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Atlantic/Stanley|FKT|Falkland Islands Standard Time|FKST|Falkland Islands Summer Time\n\
Australia/ACT|AEST|Australian Eastern Standard Time|AEDT|Australian Eastern Daylight Time\n\
Australia/Adelaide|ACST|Australian Central Standard Time|ACDT|Australian Central Daylight Time\n\
Australia/Brisbane|AEST|Australian Eastern Standard Time|AEDT|Australian Eastern Daylight Time\n\
Australia/Broken_Hill|ACST|Australian Central Standard Time|ACDT|Australian Central Daylight Time\n\
Australia/Canberra|AEST|Australian Eastern Standard Time|AEDT|Australian Eastern Daylight Time\n\
Australia/Currie|AEST|Australian Eastern Standard Time|AEDT|Australian Eastern Daylight Time\n\
Australia/Darwin|ACST|Australian Central Standard Time|ACDT|Australian Central Daylight Time\n\
Australia/Eucla|ACWST|Australian Central Western Standard Time|ACWDT|Australian Central Western Daylight Time\n\
Australia/Hobart|AEST|Australian Eastern Standard Time|AEDT|Australian Eastern Daylight Time\n\
Australia/LHI|LHST|Lord Howe Standard Time|LHDT|Lord Howe Daylight Time\n\
Australia/Lindeman|AEST|Australian Eastern Standard Time|AEDT|Australian Eastern Daylight Time\n\
Australia/Lord_Howe|LHST|Lord Howe Standard Time|LHDT|Lord Howe Daylight Time\n\
Australia/Melbourne|AEST|Australian Eastern Standard Time|AEDT|Australian Eastern Daylight Time\n\
Australia/NSW|AEST|Australian Eastern Standard Time|AEDT|Australian Eastern Daylight Time\n\
Australia/North|ACST|Australian Central Standard Time|ACDT|Australian Central Daylight Time\n\
Australia/Perth|AWST|Australian Western Standard Time|AWDT|Australian Western Daylight Time\n\
Australia/Queensland|AEST|Australian Eastern Standard Time|AEDT|Australian Eastern Daylight Time\n\
Australia/South|ACST|Australian Central Standard Time|ACDT|Australian Central Daylight Time\n\
Australia/Sydney|AEST|Australian Eastern Standard Time|AEDT|Australian Eastern Daylight Time\n\
Australia/Tasmania|AEST|Australian Eastern Standard Time|AEDT|Australian Eastern Daylight Time\n\
Australia/Victoria|AEST|Australian Eastern Standard Time|AEDT|Australian Eastern Daylight Time\n\
Australia/West|AWST|Australian Western Standard Time|AWDT|Australian Western Daylight Time\n\
Australia/Yancowinna|ACST|Australian Central Standard Time|ACDT|Australian Central Daylight Time\n\
Brazil/Acre|ACT|Acre Standard Time|ACST|Acre Summer Time\n\
Brazil/DeNoronha|FNT|Fernando de Noronha Standard Time|FNST|Fernando de Noronha Summer Time\n\
Brazil/East|BRT|Brasilia Standard Time|BRST|Brasilia Summer Time\n\
Brazil/West|AMT|Amazon Standard Time|AMST|Amazon Summer Time\n\
CET|CET|Central European Time|CEST|Central European Summer Time\n\
CST6CDT|CST|Central Standard Time|CDT|Central Daylight Time\n\
Canada/Atlantic|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
Canada/Central|CST|Central Standard Time|CDT|Central Daylight Time\n\
Canada/Eastern|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
Canada/Mountain|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
Canada/Newfoundland|NST|Newfoundland Standard Time|NDT|Newfoundland Daylight Time\n\
Canada/Pacific|PST|Pacific Standard Time|PDT|Pacific Daylight Time\n\
Canada/Saskatchewan|CST|Central Standard Time|CDT|Central Daylight Time\n\
Canada/Yukon|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
Chile/Continental|CLT|Chile Standard Time|CLST|Chile Summer Time\n\
Chile/EasterIsland|EAST|Easter Island Standard Time|EASST|Easter Island Summer Time\n\
Cuba|CST|Cuba Standard Time|CDT|Cuba Daylight Time\n\
EET|EET|Eastern European Time|EEST|Eastern European Summer Time\n\
EST5EDT|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
Egypt|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Eire|GMT|Greenwich Mean Time|IST|Irish Standard Time\n\
Etc/GMT|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Etc/GMT+0|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Etc/GMT+1|GMT-01:00|GMT-01:00|GMT-01:00|GMT-01:00\n\
Etc/GMT+10|GMT-10:00|GMT-10:00|GMT-10:00|GMT-10:00\n\
Etc/GMT+11|GMT-11:00|GMT-11:00|GMT-11:00|GMT-11:00\n\
Etc/GMT+12|GMT-12:00|GMT-12:00|GMT-12:00|GMT-12:00\n\
Etc/GMT+2|GMT-02:00|GMT-02:00|GMT-02:00|GMT-02:00\n\
Etc/GMT+3|GMT-03:00|GMT-03:00|GMT-03:00|GMT-03:00\n\
Etc/GMT+4|GMT-04:00|GMT-04:00|GMT-04:00|GMT-04:00\n\
Etc/GMT+5|GMT-05:00|GMT-05:00|GMT-05:00|GMT-05:00\n\
Etc/GMT+6|GMT-06:00|GMT-06:00|GMT-06:00|GMT-06:00\n\
Etc/GMT+7|GMT-07:00|GMT-07:00|GMT-07:00|GMT-07:00\n\
Etc/GMT+8|GMT-08:00|GMT-08:00|GMT-08:00|GMT-08:00\n\
Etc/GMT+9|GMT-09:00|GMT-09:00|GMT-09:00|GMT-09:00\n\
Etc/GMT-0|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Etc/GMT-1|GMT+01:00|GMT+01:00|GMT+01:00|GMT+01:00\n\
Etc/GMT-10|GMT+10:00|GMT+10:00|GMT+10:00|GMT+10:00\n\
Etc/GMT-11|GMT+11:00|GMT+11:00|GMT+11:00|GMT+11:00\n\
Etc/GMT-12|GMT+12:00|GMT+12:00|GMT+12:00|GMT+12:00\n\
Etc/GMT-13|GMT+13:00|GMT+13:00|GMT+13:00|GMT+13:00\n\
Etc/GMT-14|GMT+14:00|GMT+14:00|GMT+14:00|GMT+14:00\n\
Etc/GMT-2|GMT+02:00|GMT+02:00|GMT+02:00|GMT+02:00\n\
Etc/GMT-3|GMT+03:00|GMT+03:00|GMT+03:00|GMT+03:00\n\
Etc/GMT-4|GMT+04:00|GMT+04:00|GMT+04:00|GMT+04:00\n\
Etc/GMT-5|GMT+05:00|GMT+05:00|GMT+05:00|GMT+05:00\n\
Etc/GMT-6|GMT+06:00|GMT+06:00|GMT+06:00|GMT+06:00\n\
Etc/GMT-7|GMT+07:00|GMT+07:00|GMT+07:00|GMT+07:00\n\
Etc/GMT-8|GMT+08:00|GMT+08:00|GMT+08:00|GMT+08:00\n\
Etc/GMT-9|GMT+09:00|GMT+09:00|GMT+09:00|GMT+09:00\n\
Etc/GMT0|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Etc/Greenwich|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Etc/UCT|UTC|Coordinated Universal Time|UTC|Coordinated Universal Time\n\
Etc/UTC|UTC|Coordinated Universal Time|UTC|Coordinated Universal Time\n\
Etc/Universal|UTC|Coordinated Universal Time|UTC|Coordinated Universal Time\n\
Etc/Zulu|UTC|Coordinated Universal Time|UTC|Coordinated Universal Time\n\
Europe/Amsterdam|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Andorra|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Astrakhan|GMT+04:00|Astrakhan Standard Time|GMT+04:00|Astrakhan Standard Time\n\
Europe/Athens|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Europe/Belfast|GMT|Greenwich Mean Time|BST|British Summer Time\n\
Europe/Belgrade|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Berlin|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Bratislava|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Brussels|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Bucharest|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Europe/Budapest|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Busingen|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Chisinau|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Europe/Copenhagen|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Dublin|GMT|Greenwich Mean Time|IST|Irish Standard Time\n\
Europe/Gibraltar|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Guernsey|GMT|Greenwich Mean Time|BST|British Summer Time\n\
Europe/Helsinki|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Europe/Isle_of_Man|GMT|Greenwich Mean Time|BST|British Summer Time\n\
Europe/Istanbul|TRT|Turkey Time|TRST|Turkey Summer Time\n\
Europe/Jersey|GMT|Greenwich Mean Time|BST|British Summer Time\n\
Europe/Kaliningrad|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Europe/Kiev|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Europe/Kirov|MSK|Moscow Standard Time|MSD|Moscow Daylight Time\n\
Europe/Kyiv|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Europe/Lisbon|WET|Western European Standard Time|WEST|Western European Summer Time\n\
Europe/Ljubljana|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/London|GMT|Greenwich Mean Time|BST|British Summer Time\n\
Europe/Luxembourg|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Madrid|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Malta|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Mariehamn|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Europe/Minsk|MSK|Moscow Standard Time|MSD|Moscow Summer Time\n\
Europe/Monaco|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Moscow|MSK|Moscow Standard Time|MSD|Moscow Summer Time\n\
Europe/Nicosia|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Europe/Oslo|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Paris|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Podgorica|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Prague|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Riga|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Europe/Rome|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Samara|SAMT|Samara Standard Time|SAMST|Samara Summer Time\n\
Europe/San_Marino|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Sarajevo|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Saratov|GMT+04:00|Saratov Standard Time|GMT+04:00|Saratov Standard Time\n\
Europe/Simferopol|MSK|Moscow Standard Time|MSD|Moscow Summer Time\n\
Europe/Skopje|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Sofia|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Europe/Stockholm|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Tallinn|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Europe/Tirane|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Tiraspol|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Europe/Ulyanovsk|GMT+04:00|Ulyanovsk Standard Time|GMT+04:00|Ulyanovsk Standard Time\n\
Europe/Uzhgorod|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Europe/Vaduz|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Vatican|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Vienna|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Vilnius|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Europe/Volgograd|MSK|Volgograd Standard Time|MSD|Volgograd Summer Time\n\
Europe/Warsaw|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Zagreb|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Europe/Zaporozhye|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
Europe/Zurich|CET|Central European Standard Time|CEST|Central European Summer Time\n\
GB|GMT|Greenwich Mean Time|BST|British Summer Time\n\
GB-Eire|GMT|Greenwich Mean Time|BST|British Summer Time\n\
GMT|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
GMT0|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Greenwich|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Hongkong|HKT|Hong Kong Standard Time|HKST|Hong Kong Summer Time\n\
Iceland|GMT|Greenwich Mean Time|GMT|Greenwich Mean Time\n\
Indian/Antananarivo|EAT|East Africa Time|EAST|Eastern African Summer Time\n\
Indian/Chagos|IOT|Indian Ocean Time|IOST|Indian Ocean Territory Summer Time\n\
Indian/Christmas|CXT|Christmas Island Time|CXST|Christmas Island Summer Time\n\
Indian/Cocos|CCT|Cocos Islands Time|CCST|Cocos Islands Summer Time\n\
Indian/Comoro|EAT|East Africa Time|EAST|Eastern African Summer Time\n\
Indian/Kerguelen|TFT|French Southern & Antarctic Time|TFST|French Southern & Antarctic Lands Summer Time\n\
Indian/Mahe|SCT|Seychelles Time|SCST|Seychelles Summer Time\n\
Indian/Maldives|MVT|Maldives Time|MVST|Maldives Summer Time\n\
Indian/Mauritius|MUT|Mauritius Standard Time|MUST|Mauritius Summer Time\n\
Indian/Mayotte|EAT|East Africa Time|EAST|Eastern African Summer Time\n\
Indian/Reunion|RET|Réunion Time|REST|Reunion Summer Time\n\
Iran|IRST|Iran Standard Time|IRDT|Iran Daylight Time\n\
Israel|IST|Israel Standard Time|IDT|Israel Daylight Time\n\
Jamaica|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
Japan|JST|Japan Standard Time|JDT|Japan Daylight Time\n\
Kwajalein|MHT|Marshall Islands Time|MHST|Marshall Islands Summer Time\n\
Libya|EET|Eastern European Standard Time|EEST|Eastern European Summer Time\n\
MET|MET|Middle Europe Time|MEST|Middle Europe Summer Time\n\
MST7MDT|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
Mexico/BajaNorte|PST|Pacific Standard Time|PDT|Pacific Daylight Time\n\
Mexico/BajaSur|MST|Mexican Pacific Standard Time|MDT|Mexican Pacific Daylight Time\n\
Mexico/General|CST|Central Standard Time|CDT|Central Daylight Time\n\
NZ|NZST|New Zealand Standard Time|NZDT|New Zealand Daylight Time\n\
NZ-CHAT|CHAST|Chatham Standard Time|CHADT|Chatham Daylight Time\n\
Navajo|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
PRC|CST|China Standard Time|CDT|China Daylight Time\n\
PST8PDT|PST|Pacific Standard Time|PDT|Pacific Daylight Time\n\
Pacific/Apia|WSST|Apia Standard Time|WSDT|Apia Daylight Time\n\
Pacific/Auckland|NZST|New Zealand Standard Time|NZDT|New Zealand Daylight Time\n\
Pacific/Bougainville|BST|Bougainville Standard Time|BST|Bougainville Daylight Time\n\
Pacific/Chatham|CHAST|Chatham Standard Time|CHADT|Chatham Daylight Time\n\
Pacific/Chuuk|CHUT|Chuuk Time|CHUST|Chuuk Summer Time\n\
Pacific/Easter|EAST|Easter Island Standard Time|EASST|Easter Island Summer Time\n\
Pacific/Efate|VUT|Vanuatu Standard Time|VUST|Vanuatu Summer Time\n\
Pacific/Enderbury|PHOT|Phoenix Islands Time|PHOST|Phoenix Is. Summer Time\n\
Pacific/Fakaofo|TKT|Tokelau Time|TKST|Tokelau Summer Time\n\
Pacific/Fiji|FJT|Fiji Standard Time|FJST|Fiji Summer Time\n\
Pacific/Funafuti|TVT|Tuvalu Time|TVST|Tuvalu Summer Time\n\
Pacific/Galapagos|GALT|Galapagos Time|GALST|Galapagos Summer Time\n\
Pacific/Gambier|GAMT|Gambier Time|GAMST|Gambier Summer Time\n\
Pacific/Guadalcanal|SBT|Solomon Islands Time|SBST|Solomon Is. Summer Time\n\
Pacific/Guam|ChST|Chamorro Standard Time|ChDT|Chamorro Daylight Time\n\
Pacific/Honolulu|HST|Hawaii-Aleutian Standard Time|HDT|Hawaii-Aleutian Daylight Time\n\
Pacific/Johnston|HAST|Hawaii-Aleutian Standard Time|HADT|Hawaii-Aleutian Daylight Time\n\
Pacific/Kanton|GMT+13:00|Kanton Standard Time|GMT+13:00|Kanton Daylight Time\n\
Pacific/Kiritimati|LINT|Line Islands Time|LINST|Line Is. Summer Time\n\
Pacific/Kosrae|KOST|Kosrae Time|KOSST|Kosrae Summer Time\n\
Pacific/Kwajalein|MHT|Marshall Islands Time|MHST|Marshall Islands Summer Time\n\
Pacific/Majuro|MHT|Marshall Islands Time|MHST|Marshall Islands Summer Time\n\
Pacific/Marquesas|MART|Marquesas Time|MARST|Marquesas Summer Time\n\
Pacific/Midway|SST|Samoa Standard Time|SDT|Samoa Daylight Time\n\
Pacific/Nauru|NRT|Nauru Time|NRST|Nauru Summer Time\n\
Pacific/Niue|NUT|Niue Time|NUST|Niue Summer Time\n\
Pacific/Norfolk|NFT|Norfolk Island Standard Time|NFST|Norfolk Island Daylight Time\n\
Pacific/Noumea|NCT|New Caledonia Standard Time|NCST|New Caledonia Summer Time\n\
Pacific/Pago_Pago|SST|Samoa Standard Time|SDT|Samoa Daylight Time\n\
Pacific/Palau|PWT|Palau Time|PWST|Palau Summer Time\n\
Pacific/Pitcairn|PST|Pitcairn Time|PDT|Pitcairn Daylight Time\n\
Pacific/Pohnpei|PONT|Ponape Time|PONST|Pohnpei Summer Time\n\
Pacific/Ponape|PONT|Ponape Time|PONST|Pohnpei Summer Time\n\
Pacific/Port_Moresby|PGT|Papua New Guinea Time|PGST|Papua New Guinea Summer Time\n\
Pacific/Rarotonga|CKT|Cook Islands Standard Time|CKHST|Cook Islands Half Summer Time\n\
Pacific/Saipan|ChST|Chamorro Standard Time|ChDT|Chamorro Daylight Time\n\
Pacific/Samoa|SST|Samoa Standard Time|SDT|Samoa Daylight Time\n\
Pacific/Tahiti|TAHT|Tahiti Time|TAHST|Tahiti Summer Time\n\
Pacific/Tarawa|GILT|Gilbert Islands Time|GILST|Gilbert Is. Summer Time\n\
Pacific/Tongatapu|TOT|Tonga Standard Time|TOST|Tonga Summer Time\n\
Pacific/Truk|CHUT|Chuuk Time|CHUST|Chuuk Summer Time\n\
Pacific/Wake|WAKT|Wake Island Time|WAKST|Wake Summer Time\n\
Pacific/Wallis|WFT|Wallis & Futuna Time|WFST|Wallis & Futuna Summer Time\n\
Pacific/Yap|CHUT|Chuuk Time|CHUST|Chuuk Summer Time\n\
Poland|CET|Central European Standard Time|CEST|Central European Summer Time\n\
Portugal|WET|Western European Standard Time|WEST|Western European Summer Time\n\
ROK|KST|Korean Standard Time|KDT|Korean Daylight Time\n\
Singapore|SGT|Singapore Standard Time|SGST|Singapore Summer Time\n\
SystemV/AST4|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
SystemV/AST4ADT|AST|Atlantic Standard Time|ADT|Atlantic Daylight Time\n\
SystemV/CST6|CST|Central Standard Time|CDT|Central Daylight Time\n\
SystemV/CST6CDT|CST|Central Standard Time|CDT|Central Daylight Time\n\
SystemV/EST5|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
SystemV/EST5EDT|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
SystemV/HST10|HST|Hawaii-Aleutian Standard Time|HDT|Hawaii-Aleutian Daylight Time\n\
SystemV/MST7|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
SystemV/MST7MDT|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
SystemV/PST8|PST|Pitcairn Time|PST|Pitcairn Time\n\
SystemV/PST8PDT|PST|Pacific Standard Time|PDT|Pacific Daylight Time\n\
SystemV/YST9|AKST|Gambier Time|AKST|Gambier Time\n\
SystemV/YST9YDT|AKST|Alaska Standard Time|AKDT|Alaska Daylight Time\n\
Turkey|TRT|Turkey Time|TRST|Turkey Summer Time\n\
UCT|UTC|Coordinated Universal Time|UTC|Coordinated Universal Time\n\
US/Alaska|AKST|Alaska Standard Time|AKDT|Alaska Daylight Time\n\
US/Aleutian|HAST|Hawaii-Aleutian Standard Time|HADT|Hawaii-Aleutian Daylight Time\n\
US/Arizona|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
US/Central|CST|Central Standard Time|CDT|Central Daylight Time\n\
US/East-Indiana|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
US/Eastern|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
US/Hawaii|HST|Hawaii-Aleutian Standard Time|HDT|Hawaii-Aleutian Daylight Time\n\
US/Indiana-Starke|CST|Central Standard Time|CDT|Central Daylight Time\n\
US/Michigan|EST|Eastern Standard Time|EDT|Eastern Daylight Time\n\
US/Mountain|MST|Mountain Standard Time|MDT|Mountain Daylight Time\n\
US/Pacific|PST|Pacific Standard Time|PDT|Pacific Daylight Time\n\
US/Samoa|SST|Samoa Standard Time|SDT|Samoa Daylight Time\n\
UTC|UTC|Coordinated Universal Time|UTC|Coordinated Universal Time\n\
Universal|UTC|Coordinated Universal Time|UTC|Coordinated Universal Time\n\
W-SU|MSK|Moscow Standard Time|MSD|Moscow Summer Time\n\
WET|WET|Western European Time|WEST|Western European Summer Time\n\
Zulu|UTC|Coordinated Universal Time|UTC|Coordinated Universal Time\n\
";

/// Short zone names `z` parses: name, the zone it means under `Locale.ROOT`, and under
/// English.
pub(super) const PARSED_NAMES: &str = "\
ACDT Australia/Adelaide Australia/Adelaide\n\
ACST Australia/Adelaide America/Rio_Branco\n\
ACT Australia/Adelaide America/Rio_Branco\n\
ACWST Australia/Eucla Australia/Eucla\n\
ADT SystemV/AST4ADT America/Halifax\n\
AEDT Australia/Sydney Australia/Sydney\n\
AEST Australia/Sydney Australia/Sydney\n\
AFT Asia/Kabul Asia/Kabul\n\
AKDT SystemV/YST9YDT America/Juneau\n\
AKST SystemV/YST9YDT America/Juneau\n\
ALMT Asia/Almaty Asia/Almaty\n\
AMT America/Manaus America/Manaus\n\
ANAT Asia/Anadyr Asia/Anadyr\n\
AQTT Asia/Aqtobe Asia/Aqtobe\n\
ART America/Argentina/Buenos_Aires America/Argentina/Buenos_Aires\n\
AST SystemV/AST4ADT America/Halifax\n\
AWST Australia/Perth Australia/Perth\n\
AZOST Atlantic/Azores Atlantic/Azores\n\
AZOT Atlantic/Azores Atlantic/Azores\n\
AZT Asia/Baku Asia/Baku\n\
BDT Asia/Dhaka Asia/Dhaka\n\
BNT Asia/Kuching Asia/Kuching\n\
BOT America/La_Paz America/La_Paz\n\
BRT America/Sao_Paulo America/Sao_Paulo\n\
BST Africa/Abidjan Pacific/Bougainville\n\
BTT Asia/Thimphu Asia/Thimphu\n\
CAT Africa/Maputo Africa/Maputo\n\
CCT Asia/Yangon Asia/Yangon\n\
CDT SystemV/CST6CDT America/Chicago\n\
CEST Europe/Paris Europe/Paris\n\
CET Europe/Paris Europe/Paris\n\
CHADT Pacific/Chatham Pacific/Chatham\n\
CHAST Pacific/Chatham Pacific/Chatham\n\
CHOT Asia/Ulaanbaatar Asia/Ulaanbaatar\n\
CHUT Pacific/Port_Moresby Pacific/Port_Moresby\n\
CKT Pacific/Rarotonga Pacific/Rarotonga\n\
CLST Antarctica/Palmer Antarctica/Palmer\n\
CLT Antarctica/Palmer Antarctica/Palmer\n\
COT America/Bogota America/Bogota\n\
CST SystemV/CST6CDT America/Chicago\n\
CVT Atlantic/Cape_Verde Atlantic/Cape_Verde\n\
CXT Asia/Bangkok Asia/Bangkok\n\
ChST Pacific/Guam Pacific/Guam\n\
DAVT Antarctica/Davis Antarctica/Davis\n\
DDUT Pacific/Port_Moresby Pacific/Port_Moresby\n\
EASST Pacific/Easter Pacific/Easter\n\
EAST Africa/Nairobi Pacific/Easter\n\
EAT Africa/Nairobi Africa/Nairobi\n\
ECT America/Guayaquil America/Guayaquil\n\
EDT SystemV/EST5EDT America/New_York\n\
EEST Europe/Bucharest Europe/Bucharest\n\
EET Europe/Bucharest Europe/Bucharest\n\
EGST America/Scoresbysund America/Scoresbysund\n\
EGT America/Scoresbysund America/Scoresbysund\n\
EST SystemV/EST5EDT America/New_York\n\
FJST Pacific/Fiji Pacific/Fiji\n\
FJT Pacific/Fiji Pacific/Fiji\n\
FKT Atlantic/Stanley Atlantic/Stanley\n\
FNT America/Noronha America/Noronha\n\
GALT Pacific/Galapagos Pacific/Galapagos\n\
GAMT Pacific/Gambier Pacific/Gambier\n\
GET Asia/Tbilisi Asia/Tbilisi\n\
GFT America/Cayenne America/Cayenne\n\
GILT Pacific/Tarawa Pacific/Tarawa\n\
GST Asia/Dubai Atlantic/South_Georgia\n\
GYT America/Guyana America/Guyana\n\
HADT ERR Pacific/Honolulu\n\
HAST ERR Pacific/Honolulu\n\
HDT Pacific/Honolulu Pacific/Honolulu\n\
HKT Asia/Hong_Kong Asia/Hong_Kong\n\
HOVT Asia/Hovd Asia/Hovd\n\
HST SystemV/HST10 Pacific/Honolulu\n\
ICT Asia/Bangkok Asia/Bangkok\n\
IDT Asia/Kolkata Asia/Kolkata\n\
IOT Indian/Chagos Indian/Chagos\n\
IRDT Asia/Tehran Asia/Tehran\n\
IRKT Asia/Irkutsk Asia/Irkutsk\n\
IRST Asia/Tehran Asia/Tehran\n\
IST Asia/Kolkata Africa/Abidjan\n\
JST Asia/Tokyo Asia/Tokyo\n\
KGT Asia/Bishkek Asia/Bishkek\n\
KOST Pacific/Kosrae Pacific/Kosrae\n\
KRAT Asia/Krasnoyarsk Asia/Krasnoyarsk\n\
KST Asia/Seoul Asia/Seoul\n\
LHDT Australia/Lord_Howe Australia/Lord_Howe\n\
LHST Australia/Lord_Howe Australia/Lord_Howe\n\
LINT Pacific/Kiritimati Pacific/Kiritimati\n\
MAGT Asia/Magadan Asia/Magadan\n\
MART Pacific/Marquesas Pacific/Marquesas\n\
MAWT Antarctica/Mawson Antarctica/Mawson\n\
MDT SystemV/MST7MDT America/Denver\n\
MEST Europe/Paris Europe/Paris\n\
MET Europe/Paris Europe/Paris\n\
MHT Pacific/Tarawa Pacific/Tarawa\n\
MMT Asia/Yangon Asia/Yangon\n\
MSK Europe/Moscow Europe/Moscow\n\
MST SystemV/MST7MDT America/Denver\n\
MUT Indian/Mauritius Indian/Mauritius\n\
MVT Indian/Maldives Indian/Maldives\n\
MYT Asia/Kuching Asia/Kuching\n\
NCT Pacific/Noumea Pacific/Noumea\n\
NDT America/St_Johns America/St_Johns\n\
NFST Pacific/Norfolk Pacific/Norfolk\n\
NFT Pacific/Norfolk Pacific/Norfolk\n\
NOVT Asia/Novosibirsk Asia/Novosibirsk\n\
NPT Asia/Kathmandu Asia/Kathmandu\n\
NRT Pacific/Nauru Pacific/Nauru\n\
NST America/St_Johns America/St_Johns\n\
NUT Pacific/Niue Pacific/Niue\n\
NZDT Pacific/Auckland Pacific/Auckland\n\
NZST Pacific/Auckland Pacific/Auckland\n\
OMST Asia/Omsk Asia/Omsk\n\
ORAT Asia/Aqtobe Asia/Aqtobe\n\
PDT SystemV/PST8PDT America/Los_Angeles\n\
PET America/Lima America/Lima\n\
PETT Asia/Kamchatka Asia/Kamchatka\n\
PGT Pacific/Port_Moresby Pacific/Port_Moresby\n\
PHOT Pacific/Kanton Pacific/Kanton\n\
PKT Asia/Karachi Asia/Karachi\n\
PMDT America/Miquelon America/Miquelon\n\
PMST America/Miquelon America/Miquelon\n\
PONT Pacific/Guadalcanal Pacific/Guadalcanal\n\
PST SystemV/PST8PDT America/Los_Angeles\n\
PWT Pacific/Palau Pacific/Palau\n\
PYST America/Asuncion America/Asuncion\n\
PYT America/Asuncion America/Asuncion\n\
QOST Asia/Almaty Asia/Almaty\n\
QYZT Asia/Aqtobe Asia/Aqtobe\n\
RET Asia/Dubai Asia/Dubai\n\
ROTT Antarctica/Rothera Antarctica/Rothera\n\
SAKT Asia/Sakhalin Asia/Sakhalin\n\
SAMT Europe/Samara Europe/Samara\n\
SAST Africa/Johannesburg Africa/Johannesburg\n\
SBT Pacific/Guadalcanal Pacific/Guadalcanal\n\
SCT Asia/Dubai Asia/Dubai\n\
SGT Asia/Singapore Asia/Singapore\n\
SRET Asia/Srednekolymsk Asia/Srednekolymsk\n\
SRT America/Paramaribo America/Paramaribo\n\
SST Pacific/Pago_Pago Pacific/Pago_Pago\n\
SYOT Asia/Riyadh Asia/Riyadh\n\
TAHT Pacific/Tahiti Pacific/Tahiti\n\
TFT Indian/Maldives Indian/Maldives\n\
TJT Asia/Dushanbe Asia/Dushanbe\n\
TKT Pacific/Fakaofo Pacific/Fakaofo\n\
TLT Asia/Dili Asia/Dili\n\
TMT Asia/Ashgabat Asia/Ashgabat\n\
TOT Pacific/Tongatapu Pacific/Tongatapu\n\
TRT Europe/Istanbul Europe/Istanbul\n\
TVT Pacific/Tarawa Pacific/Tarawa\n\
ULAT Asia/Ulaanbaatar Asia/Ulaanbaatar\n\
UTC UTC UTC\n\
UYT America/Montevideo America/Montevideo\n\
UZT Asia/Tashkent Asia/Tashkent\n\
VET America/Caracas America/Caracas\n\
VLAT Asia/Vladivostok Asia/Vladivostok\n\
VOST Antarctica/Vostok Antarctica/Vostok\n\
VUT Pacific/Efate Pacific/Efate\n\
WAKT Pacific/Tarawa Pacific/Tarawa\n\
WAT Africa/Lagos Africa/Lagos\n\
WEST Atlantic/Canary Atlantic/Canary\n\
WET Atlantic/Canary Atlantic/Canary\n\
WFT Pacific/Tarawa Pacific/Tarawa\n\
WGST America/Nuuk America/Nuuk\n\
WGT America/Nuuk America/Nuuk\n\
WIB Asia/Jakarta Asia/Jakarta\n\
WIT Asia/Jayapura Asia/Jayapura\n\
WITA Asia/Makassar Asia/Makassar\n\
WSDT Pacific/Apia Pacific/Apia\n\
WSST Pacific/Apia Pacific/Apia\n\
XJT Asia/Urumqi Asia/Urumqi\n\
YAKT Asia/Yakutsk Asia/Yakutsk\n\
YEKT Asia/Yekaterinburg Asia/Yekaterinburg\n\
";
